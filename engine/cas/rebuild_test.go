package cas

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/cockroachdb/pebble/v2"
)

// fillStore puts blobs over several packs and two records, flushed.
func fillStore(t *testing.T, s *Store) map[blob.ID][]byte {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(21, 22))
	blobs := make(map[blob.ID][]byte)
	for i := range 30 {
		var b []byte
		if i%2 == 0 {
			b = randomBlob(r, 10000)
		} else {
			b = compressibleBlob(r, 30000)
		}
		blobs[mustPut(t, s, b)] = b
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, blob.RecordVG, "vg-0000000000000001", []byte(`{"name":"web"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, blob.RecordSnapshot, "vg-0000000000000001-0000000000000001", []byte(`{"seq":1}`)); err != nil {
		t.Fatal(err)
	}
	return blobs
}

func checkStore(t *testing.T, s *Store, blobs map[blob.ID][]byte) {
	t.Helper()
	ctx := context.Background()
	for id, b := range blobs {
		mustGet(t, s, id, b)
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Blobs != int64(len(blobs)) {
		t.Fatalf("stats %+v, %v; want %d blobs", st, err, len(blobs))
	}
	if d, err := s.GetRecord(ctx, blob.RecordVG, "vg-0000000000000001"); err != nil || string(d) != `{"name":"web"}` {
		t.Fatalf("vg record = %q, %v", d, err)
	}
	if d, err := s.GetRecord(ctx, blob.RecordSnapshot, "vg-0000000000000001-0000000000000001"); err != nil || string(d) != `{"seq":1}` {
		t.Fatalf("snapshot record = %q, %v", d, err)
	}
	rep, err := s.Verify(ctx, VerifyOptions{ReadData: true})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}

func TestRebuildIndex(t *testing.T) {
	s, _ := newTestStore(t, 64<<10)
	blobs := fillStore(t, s)
	if err := s.RebuildIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkStore(t, s, blobs)
}

func TestOpenAfterIndexDeleted(t *testing.T) {
	s, dir := newTestStore(t, 64<<10)
	blobs := fillStore(t, s)
	s.Close()
	if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	checkStore(t, s, blobs)
	if err := s.RebuildIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkStore(t, s, blobs)
}

// A crash after a pack's rename but before its index batch leaves a pack
// the index does not know; Open must index it again.
func TestOpenRecoversUnindexedPack(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	data := []byte("blob whose index batch was lost")
	id := mustPut(t, s, data)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loc, _ := s.Lookup(ctx, id)
	pn, _ := parsePackName(loc.Pack)
	b := s.db.NewBatch()
	b.Delete(blobKey(id), nil)
	b.Delete(packKey(pn), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(ctx, id); ok {
		t.Fatal("index entry still there")
	}
	s.Close()
	s = openTestStore(t, dir)
	mustGet(t, s, id, data)
	if got, _ := s.Lookup(ctx, id); got != loc {
		t.Fatalf("recovered location %+v, want %+v", got, loc)
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		wantErr string
	}{
		{"garbage", "not json at all", "not valid JSON"},
		{"unknown version", `{"version":7,"id":"00112233445566778899aabbccddeeff","chunker":{"min":16384,"avg":65536,"max":262144},"pack_size":67108864,"compression":"zstd"}`, "unknown version 7"},
		{"missing chunker", `{"version":1,"id":"00112233445566778899aabbccddeeff","pack_size":67108864,"compression":"zstd"}`, "bad chunker"},
		{"bad id", `{"version":1,"id":"xyz","chunker":{"min":16384,"avg":65536,"max":262144},"pack_size":67108864,"compression":"zstd"}`, "bad store id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config")
			if err := os.WriteFile(path, []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(context.Background(), dir, Options{})
			if err == nil {
				t.Fatal("Open accepted a bad config")
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, tc.wantErr) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line naming %s and saying %q", msg, path, tc.wantErr)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Fatalf("Open changed the directory: %d entries", len(ents))
			}
		})
	}
}

func TestInitRefusesExistingConfig(t *testing.T) {
	_, dir := newTestStore(t, 1<<20)
	if err := Init(context.Background(), dir, DefaultConfig()); err == nil {
		t.Fatal("Init over an existing store succeeded")
	}
}

func TestOpenRefusesForeignPack(t *testing.T) {
	ctx := context.Background()
	other, _ := newTestStore(t, 1<<20)
	id := mustPut(t, other, []byte("from another store"))
	if err := other.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	src, loc := packPath(t, other, id)

	s, dir := newTestStore(t, 1<<20)
	s.Close()
	dst := filepath.Join(dir, "packs", loc.Pack[:2], loc.Pack+".pack")
	os.MkdirAll(filepath.Dir(dst), 0o750)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, dir, Options{})
	if err == nil {
		t.Fatal("Open accepted a foreign pack")
	}
	msg := err.Error()
	want := "pack " + loc.Pack + " belongs to store " + other.Config().ID + ", not " + s.Config().ID
	if !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
		t.Fatalf("error %q, want one line containing %q", msg, want)
	}
	if _, err := os.Stat(dst); err != nil {
		t.Fatalf("foreign pack was touched: %v", err)
	}
}
