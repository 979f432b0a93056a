package cas

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// damagedIndexStore makes a store of blobs and a record whose index is
// flushed to an sstable, closes it, and returns the blobs' IDs.
func damagedIndexStore(t *testing.T) (string, []blob.ID) {
	t.Helper()
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	r := rand.New(rand.NewPCG(7, 7))
	var ids []blob.ID
	for range 3000 {
		b := randomBlob(r, 1000)
		id := blob.Sum(b)
		if _, err := s.Put(ctx, blob.Chunk, id, b); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := s.PutRecord(ctx, blob.RecordVG, "vg-x", []byte(`{"name":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	return dir, ids
}

// checkRebuilt checks that a reopened store serves every blob and the
// record, verifies clean, and kept the damaged index aside.
func checkRebuilt(t *testing.T, s *Store, dir string, ids []blob.ID) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		if _, err := s.Get(ctx, id, nil); err != nil {
			t.Fatalf("blob %s after the rebuild: %v", id, err)
		}
	}
	if d, err := s.GetRecord(ctx, blob.RecordVG, "vg-x"); err != nil || string(d) != `{"name":"x"}` {
		t.Fatalf("record after the rebuild: %q, %v", d, err)
	}
	rep, err := s.Verify(ctx, VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify after the rebuild: %v %v", err, rep.Problems)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "index.damaged-*")); len(aside) != 1 {
		t.Fatalf("damaged index kept aside: %v, want one", aside)
	}
	if _, err := os.Stat(filepath.Join(dir, indexDamagedMarker)); !os.IsNotExist(err) {
		t.Fatalf("the damage marker outlived the rebuild: %v", err)
	}
}

// TestDamagedSSTable flips a byte inside the index's sstable. Reading it
// used to panic through Pebble's fatal log; now the read fails, the store
// marks the index, and the next Open moves it aside and rebuilds it.
func TestDamagedSSTable(t *testing.T) {
	ctx := context.Background()
	dir, ids := damagedIndexStore(t)
	ssts, _ := filepath.Glob(filepath.Join(dir, "index", "*.sst"))
	if len(ssts) != 1 {
		t.Fatalf("sstables %v, want one", ssts)
	}
	fi, _ := os.Stat(ssts[0])
	testdisk.FlipByte(t, ssts[0], fi.Size()/3)

	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatalf("open with a damaged sstable: %v", err)
	}
	var failed bool
	for _, id := range ids {
		if _, err := s.Get(ctx, id, nil); err != nil {
			failed = true
			break
		}
	}
	if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
		failed = true
	}
	if !failed {
		t.Fatal("no read saw the damaged block")
	}
	if _, err := os.Stat(filepath.Join(dir, indexDamagedMarker)); err != nil {
		t.Fatalf("the damaged index was not marked: %v", err)
	}
	s.Close()
	checkRebuilt(t, openTestStore(t, dir), dir, ids)
}

// TestDamagedIndexAtOpen damages a file Pebble reads at open (its OPTIONS
// file): Open moves the index aside and rebuilds it instead of failing.
func TestDamagedIndexAtOpen(t *testing.T) {
	dir, ids := damagedIndexStore(t)
	opts, _ := filepath.Glob(filepath.Join(dir, "index", "OPTIONS-*"))
	if len(opts) == 0 {
		t.Fatal("no OPTIONS file in the index")
	}
	fi, _ := os.Stat(opts[len(opts)-1])
	testdisk.FlipByte(t, opts[len(opts)-1], fi.Size()/2)
	checkRebuilt(t, openTestStore(t, dir), dir, ids)
}
