package cas

import (
	"context"
	"math/rand/v2"
	"testing"
)

func TestSweep(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	r := rand.New(rand.NewPCG(31, 32))
	put := func(n int) map[ID][]byte {
		m := make(map[ID][]byte)
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
	var survivor ID
	for id := range mostlyDead {
		survivor = id
		break
	}
	liveSet := map[ID]bool{survivor: true}
	for id := range keep {
		liveSet[id] = true
	}
	st, err := s.Sweep(ctx, func(id ID) bool { return liveSet[id] })
	if err != nil {
		t.Fatal(err)
	}
	if st.PacksDeleted != 2 || st.PacksRewritten != 1 || st.BlobsDeleted != 10 || st.BytesFreed <= 0 {
		t.Fatalf("sweep stats %+v", st)
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
