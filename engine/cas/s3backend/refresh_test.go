package s3backend_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/cas/s3backend"
)

// TestRefreshSeesOtherStores: store B learns the packs and records store
// A writes to the shared bucket, and forgets the packs A's gc deletes, so
// that it never deduplicates against them.
func TestRefreshSeesOtherStores(t *testing.T) {
	cfg := startMinIO(t)
	cfg.Prefix = prefixFor(t)
	ctx := context.Background()
	open := func(init bool) *cas.Store {
		be, err := s3backend.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "store")
		if init {
			if err := cas.InitBackend(ctx, dir, cas.DefaultConfig(), be); err != nil {
				t.Fatal(err)
			}
		}
		s, err := cas.Open(ctx, dir, cas.Options{Backend: be})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := open(true)
	b := open(false)
	data := bytes.Repeat([]byte("shared bucket "), 1000)
	id := blob.Sum(data)
	if _, err := a.Put(ctx, blob.Chunk, id, data); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.PutRecord(ctx, blob.RecordVG, "vg-0123456789abcdef", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Has(ctx, id); ok {
		t.Fatal("B has A's blob before a refresh")
	}
	st, err := b.Refresh(ctx)
	if err != nil || st.PacksAdded != 1 || st.RecordsChanged != 1 {
		t.Fatalf("refresh: %+v, %v; want one pack and one record added", st, err)
	}
	got, err := b.Get(ctx, id, nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("B reads A's blob: %v", err)
	}
	if st, err := b.Refresh(ctx); err != nil || st != (cas.RefreshStats{}) {
		t.Fatalf("second refresh changed %+v, %v; want nothing", st, err)
	}
	// A's gc deletes the blob's pack; B must drop it.
	if _, err := a.Sweep(ctx, func(blob.ID) bool { return false }, cas.SweepOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteRecord(ctx, blob.RecordVG, "vg-0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	st, err = b.Refresh(ctx)
	if err != nil || st.PacksDropped != 1 || st.BlobsDropped != 1 || st.RecordsChanged != 1 {
		t.Fatalf("refresh after A's gc: %+v, %v; want the pack, its blob and the record dropped", st, err)
	}
	if ok, _ := b.Has(ctx, id); ok {
		t.Fatal("B still has the blob A's gc deleted: it would deduplicate against it")
	}
}
