package cas

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

func TestSweep(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	r := rand.New(rand.NewPCG(31, 32))
	put := func(n int) map[blob.ID][]byte {
		m := make(map[blob.ID][]byte)
		for range n {
			b := randomBlob(r, 10000)
			m[mustPut(t, s, b)] = b
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return m
	}
	allDead := put(5)    // pack 1: nothing live
	mostlyDead := put(6) // pack 2: one of six live: rewritten
	keep := put(4)       // pack 3: all live
	var survivor blob.ID
	for id := range mostlyDead {
		survivor = id
		break
	}
	liveSet := map[blob.ID]bool{survivor: true}
	for id := range keep {
		liveSet[id] = true
	}
	isLive := func(id blob.ID) bool { return liveSet[id] }
	before := dirHash(t, filepath.Join(dir, "packs"))
	dry, err := s.Sweep(ctx, isLive, SweepOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dirHash(t, filepath.Join(dir, "packs")) != before {
		t.Fatal("a dry sweep changed the packs")
	}
	if dry.LiveBlobs != 5 || dry.DeadBlobs != 10 || dry.LiveBytes <= 0 || dry.DeadBytes <= dry.LiveBytes ||
		dry.PacksDeleted != 2 || dry.PacksRewritten != 1 || dry.BlobsDeleted != 10 ||
		dry.ReclaimableBytes <= 0 || dry.BytesFreed != 0 || dry.StoreBytesAfter != dry.StoreBytesBefore {
		t.Fatalf("dry sweep stats %+v", dry)
	}
	st, err := s.Sweep(ctx, isLive, SweepOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.PacksDeleted != 2 || st.PacksRewritten != 1 || st.BlobsDeleted != 10 || st.BytesFreed <= 0 ||
		st.BytesFreed != st.StoreBytesBefore-st.StoreBytesAfter || st.LiveBlobs != 5 || st.DeadBlobs != 10 {
		t.Fatalf("sweep stats %+v", st)
	}
	// What the dry run called reclaimable is what went, less the new
	// pack's header and footer.
	if over := st.BytesFreed - dry.ReclaimableBytes; over > 0 || over < -4096 {
		t.Fatalf("freed %d, dry run said %d reclaimable", st.BytesFreed, dry.ReclaimableBytes)
	}
	for id := range allDead {
		if ok, _ := s.Has(ctx, id); ok {
			t.Fatalf("dead blob %s still indexed", id.Short())
		}
	}
	mustGet(t, s, survivor, mostlyDead[survivor])
	for id, b := range keep {
		mustGet(t, s, id, b)
	}
	rep, err := s.Verify(ctx, VerifyOptions{ReadData: true})
	if err != nil || len(rep.Problems) != 0 || rep.Blobs != 5 || rep.Packs != 2 {
		t.Fatalf("verify after sweep: %+v %v", rep, err)
	}
	// The index must agree with the packs left behind.
	s.Close()
	s = openTestStore(t, dir)
	if err := s.RebuildIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(ctx); st.Blobs != 5 || st.Packs != 2 {
		t.Fatalf("after rebuild: %+v", st)
	}
}

// dirHash hashes the names and bytes of every file under dir.
func dirHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
