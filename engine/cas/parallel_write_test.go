package cas

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/vmrep/vmrep/engine/blob"
)

// Record writes run outside the store lock: many workers of one Writer and
// of a second one put blobs, half of them shared, into small packs that fill
// and seal while others still write, and read each back at once, often from
// a pack whose other records are still being written. After Flush, and after
// reopening, every blob reads back whole.
func TestParallelPutsReadBack(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 64<<10)
	const workers, each = 8, 40
	blobs := make([][]byte, workers*each)
	for i := range blobs {
		r := rand.New(rand.NewPCG(uint64(i%(len(blobs)/2)), 9)) // every blob twice
		if i%3 == 0 {
			blobs[i] = compressibleBlob(r, 1000+r.IntN(9000))
		} else {
			blobs[i] = randomBlob(r, 1000+r.IntN(9000))
		}
	}
	ws := []*Writer{s.NewWriter(), s.NewWriter()}
	var g errgroup.Group
	for k := range workers {
		g.Go(func() error {
			w := ws[k%2]
			for i := k; i < len(blobs); i += workers {
				id := blob.Sum(blobs[i])
				if _, err := w.Put(ctx, blob.Chunk, id, blobs[i]); err != nil {
					return err
				}
				got, err := s.Get(ctx, id, nil)
				if err != nil {
					return fmt.Errorf("get %s right after put: %w", id.Short(), err)
				}
				if !bytes.Equal(got, blobs[i]) {
					return fmt.Errorf("get %s right after put: wrong bytes", id.Short())
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	for _, b := range blobs {
		mustGet(t, s, blob.Sum(b), b)
	}
	if tmp := tmpEntries(t, dir); len(tmp) != 0 {
		t.Fatalf("temp files left after flush: %v", tmp)
	}
}

// A write error in the Put that fills a pack, which that Put detaches for
// sealing, drops the pack: nothing torn is sealed, the Put reports the
// error, and the writer's later blobs go to a new pack and flush.
func TestWriteErrorOnFullPackDropsIt(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 8<<10)
	r := rand.New(rand.NewPCG(11, 12))
	a := s.NewWriter()
	x := randomBlob(r, 3000)
	mustPutW(t, a, x)
	s.mu.Lock()
	a.cur.wf.Close() // the next record write fails
	s.mu.Unlock()
	y := randomBlob(r, 6000) // fills the pack
	if _, err := a.Put(ctx, blob.Chunk, blob.Sum(y), y); err == nil {
		t.Fatal("put into a closed temp pack succeeded")
	}
	z := randomBlob(r, 2000)
	mustPutW(t, a, z)
	if err := a.Flush(ctx); err != nil {
		t.Fatalf("flush after a write error in the writer's own pack: %v", err)
	}
	for _, id := range []blob.ID{blob.Sum(x), blob.Sum(y)} {
		if ok, _ := s.Has(ctx, id); ok {
			t.Fatalf("blob %s of the broken pack is reported present", id.Short())
		}
	}
	mustGet(t, s, blob.Sum(z), z)
	if tmp := tmpEntries(t, dir); len(tmp) != 0 {
		t.Fatalf("temp files left after flush: %v", tmp)
	}
}
