package cas

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

// TestGetBesideSweep: reads of live blobs run beside sweeps that rewrite
// their packs (FUSE mounts, diff and export read while gc runs). A read
// that looked the blob up in the old pack just before the pack was
// dropped must find it in the new one, never fail.
func TestGetBesideSweep(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<20)
	r := rand.New(rand.NewPCG(41, 42))
	var failed atomic.Int64
	var firstErr atomic.Value
	for round := range 10 {
		live := map[blob.ID][]byte{}
		for i := range 8 {
			b := randomBlob(r, 4000)
			id := mustPut(t, s, b)
			if i == 0 {
				live[id] = b
			}
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var buf []byte
				for {
					select {
					case <-stop:
						return
					default:
					}
					for id, want := range live {
						got, err := s.Get(ctx, id, buf)
						if err != nil || !bytes.Equal(got, want) {
							failed.Add(1)
							if err != nil {
								firstErr.CompareAndSwap(nil, err)
							}
						}
						buf = got
					}
				}
			}()
		}
		prev := live
		if _, err := s.Sweep(ctx, func(id blob.ID) bool { _, ok := prev[id]; return ok }, SweepOptions{}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		close(stop)
		wg.Wait()
	}
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d reads failed beside sweeps; first: %v", n, firstErr.Load())
	}
}

// TestReadStaleLocation is the losing interleaving of TestGetBesideSweep
// made certain: a read looks a blob up, a sweep moves the blob out of its
// pack and deletes the pack, then the read goes to the old location. It
// must follow the blob to its new pack.
func TestReadStaleLocation(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<20)
	r := rand.New(rand.NewPCG(43, 44))
	want := randomBlob(r, 4000)
	id := mustPut(t, s, want)
	for range 7 {
		mustPut(t, s, randomBlob(r, 4000))
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stale, err := s.Lookup(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Sweep(ctx, func(x blob.ID) bool { return x == id }, SweepOptions{})
	if err != nil || st.PacksRewritten != 1 {
		t.Fatalf("sweep: %+v, %v", st, err)
	}
	got, err := s.readBlob(ctx, id, stale, nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read at the location before the sweep: %v", err)
	}
}
