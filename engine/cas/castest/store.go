package castest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
)

// OpenStore opens (creating on first use) the store kept in one place of
// storage, with dir as its local directory. Called again with the same dir
// it reopens the store; called with another empty dir it opens a second
// store directory on the same storage, as a second daemon would.
type OpenStore func(t *testing.T, dir string) *cas.Store

// NewStorage returns an OpenStore for a fresh, empty place of storage.
type NewStorage func(t *testing.T) OpenStore

// SharedBackend returns an OpenStore that keeps packs and records in the
// backend newBackend returns (one per Open: Close closes it), initialising
// the store there on first use.
func SharedBackend(newBackend func(t *testing.T) cas.Backend, cfg cas.Config) OpenStore {
	return func(t *testing.T, dir string) *cas.Store {
		t.Helper()
		ctx := context.Background()
		be := newBackend(t)
		if _, err := cas.BackendConfig(ctx, be); errors.Is(err, blob.ErrNotFound) {
			if err := cas.InitBackend(ctx, dir, cfg, be); err != nil {
				t.Fatal(err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
		s, err := cas.Open(ctx, dir, cas.Options{Backend: be})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// RunStore checks put/get/flush/reopen/rebuild/verify on stores kept in
// fresh storage. shared says that a second directory opened on the same
// storage joins the same store (an object store, or a backend directory
// that is not the store directory).
func RunStore(t *testing.T, newStorage NewStorage, shared bool) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open OpenStore)
	}{
		{"PutGetReopen", testStoreReopen},
		{"UnflushedIsDropped", testStoreUnflushed},
		{"Records", testStoreRecords},
		{"RebuildIndex", testStoreRebuild},
		{"LostIndex", testStoreLostIndex},
		{"SecondDirectory", testStoreSecondDir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "SecondDirectory" && !shared {
				t.Skip("a plain store directory is not shared storage")
			}
			tc.fn(t, newStorage(t))
		})
	}
}

// blobSet is what a test put, to check against what a store returns.
type blobSet map[blob.ID][]byte

// putBlobs puts n blobs, a mix of random (incompressible) and repetitive
// ones, chunks and pages, some of them twice.
func putBlobs(t *testing.T, s *cas.Store, n int) blobSet {
	t.Helper()
	ctx := context.Background()
	set := make(blobSet)
	for i := range n {
		var data []byte
		if i%3 == 0 {
			data = bytes.Repeat([]byte{byte(i), byte(i >> 8), 'x'}, 1000+i)
		} else {
			data = RandomBytes(t, 1+(i*7919)%(200<<10))
		}
		typ := blob.Chunk
		if i%5 == 0 {
			typ = blob.Page
		}
		id := blob.Sum(data)
		for range 1 + i%2 {
			if _, err := s.Put(ctx, typ, id, data); err != nil {
				t.Fatalf("put blob %d: %v", i, err)
			}
		}
		set[id] = data
	}
	return set
}

func checkBlobs(t *testing.T, s *cas.Store, set blobSet) {
	t.Helper()
	ctx := context.Background()
	var buf []byte
	for id, want := range set {
		got, err := s.Get(ctx, id, buf)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("get %s: content differs", id)
		}
		buf = got
	}
}

func checkVerify(t *testing.T, s *cas.Store, wantBlobs int) {
	t.Helper()
	rep, err := s.Verify(context.Background(), cas.VerifyOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		t.Errorf("verify: %+v", p)
	}
	if rep.Blobs < wantBlobs {
		t.Errorf("verify saw %d blobs, want at least %d", rep.Blobs, wantBlobs)
	}
}

func closeStore(t *testing.T, s *cas.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func testStoreReopen(t *testing.T, open OpenStore) {
	dir := t.TempDir()
	s := open(t, dir)
	set := putBlobs(t, s, 120)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkBlobs(t, s, set)
	closeStore(t, s)
	s = open(t, dir)
	defer closeStore(t, s)
	checkBlobs(t, s, set)
	checkVerify(t, s, len(set))
}

func testStoreUnflushed(t *testing.T, open OpenStore) {
	dir := t.TempDir()
	s := open(t, dir)
	kept := putBlobs(t, s, 10)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	lost := RandomBytes(t, 5000)
	if _, err := s.Put(context.Background(), blob.Chunk, blob.Sum(lost), lost); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)
	s = open(t, dir)
	defer closeStore(t, s)
	checkBlobs(t, s, kept)
	if _, err := s.Get(context.Background(), blob.Sum(lost), nil); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("get a blob put without flush after reopen: got %v, want blob.ErrNotFound", err)
	}
}

func testStoreRecords(t *testing.T, open OpenStore) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	recs := map[string][]byte{"vg-a": []byte(`{"name":"a"}`), "vg-b": []byte(`{"name":"b"}`)}
	for name, data := range recs {
		if err := s.PutRecord(ctx, blob.RecordVG, name, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutRecord(ctx, blob.RecordSnapshot, "vg-a.1", []byte("snap")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRecord(ctx, blob.RecordVG, "vg-b"); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)
	s = open(t, dir)
	defer closeStore(t, s)
	got, err := s.GetRecord(ctx, blob.RecordVG, "vg-a")
	if err != nil || !bytes.Equal(got, recs["vg-a"]) {
		t.Fatalf("get record vg-a after reopen: %q, %v", got, err)
	}
	if _, err := s.GetRecord(ctx, blob.RecordVG, "vg-b"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("get deleted record: got %v, want blob.ErrNotFound", err)
	}
	var names []string
	err = s.ListRecords(ctx, blob.RecordSnapshot, "", func(name string, _ []byte) error {
		names = append(names, name)
		return nil
	})
	if err != nil || len(names) != 1 || names[0] != "vg-a.1" {
		t.Fatalf("list snapshot records: %v, %v", names, err)
	}
}

func testStoreRebuild(t *testing.T, open OpenStore) {
	s := open(t, t.TempDir())
	defer closeStore(t, s)
	set := putBlobs(t, s, 60)
	if err := s.PutRecord(context.Background(), blob.RecordVG, "vg-r", []byte("r")); err != nil {
		t.Fatal(err)
	}
	if err := s.RebuildIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkBlobs(t, s, set)
	if _, err := s.GetRecord(context.Background(), blob.RecordVG, "vg-r"); err != nil {
		t.Fatalf("record after rebuild: %v", err)
	}
	checkVerify(t, s, len(set))
}

func testStoreLostIndex(t *testing.T, open OpenStore) {
	dir := t.TempDir()
	s := open(t, dir)
	set := putBlobs(t, s, 40)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)
	if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer closeStore(t, s)
	checkBlobs(t, s, set)
}

func testStoreSecondDir(t *testing.T, open OpenStore) {
	ctx := context.Background()
	a := open(t, t.TempDir())
	defer closeStore(t, a)
	set := putBlobs(t, a, 50)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.PutRecord(ctx, blob.RecordVG, "vg-shared", []byte("shared")); err != nil {
		t.Fatal(err)
	}
	b := open(t, t.TempDir())
	defer closeStore(t, b)
	if b.Config() != a.Config() {
		t.Fatalf("second directory has config %+v, want %+v", b.Config(), a.Config())
	}
	checkBlobs(t, b, set)
	if got, err := b.GetRecord(ctx, blob.RecordVG, "vg-shared"); err != nil || string(got) != "shared" {
		t.Fatalf("record through the second directory: %q, %v", got, err)
	}
	// What b writes, a sees once it rebuilds its index cache.
	more := putBlobs(t, b, 5)
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.RebuildIndex(ctx); err != nil {
		t.Fatal(err)
	}
	checkBlobs(t, a, more)
}
