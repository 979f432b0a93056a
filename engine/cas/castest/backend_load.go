package castest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/vmrep/vmrep/engine/cas"
)

func testConcurrentReads(t *testing.T, be cas.Backend) {
	const size = 3 << 20
	data := RandomBytes(t, size)
	hs := []cas.Handle{
		{Kind: cas.FilePack, Name: RandomPackName(t)},
		{Kind: cas.FilePack, Name: RandomPackName(t)},
	}
	for _, h := range hs {
		PutBytes(t, be, h, data)
	}
	var g errgroup.Group
	for w := range 8 {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range 40 {
				h := hs[rng.IntN(len(hs))]
				off := rng.Int64N(size - 1)
				n := 1 + rng.Int64N(min(size-off, 256<<10))
				p := make([]byte, n)
				if err := be.ReadAt(context.Background(), h, p, off); err != nil {
					return err
				}
				if !bytes.Equal(p, data[off:off+n]) {
					return errors.New("concurrent read returned other bytes")
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// testLarge puts an object bigger than a default pack, so that an object
// store has to split the upload into parts.
func testLarge(t *testing.T, be cas.Backend) {
	const size = 70<<20 + 12345
	data := RandomBytes(t, size)
	h := cas.Handle{Kind: cas.FilePack, Name: RandomPackName(t)}
	PutBytes(t, be, h, data)
	if got := listAll(t, be, cas.FilePack); got[h.Name] != size {
		t.Fatalf("list: size %d, want %d", got[h.Name], size)
	}
	got := readAll(t, be, h, size)
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("large object content differs")
	}
	tail := make([]byte, 1<<20)
	if err := be.ReadAt(context.Background(), h, tail, size-int64(len(tail))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tail, data[size-len(tail):]) {
		t.Fatal("large object tail differs")
	}
}

func testCanceled(t *testing.T, be cas.Backend) {
	h := cas.Handle{Kind: cas.FilePack, Name: RandomPackName(t)}
	PutBytes(t, be, h, RandomBytes(t, 100))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := be.ReadAt(ctx, h, make([]byte, 10), 0); !errors.Is(err, context.Canceled) {
		t.Errorf("read with a canceled context: got %v, want context.Canceled", err)
	}
	err := be.List(ctx, cas.FilePack, func(string, int64) error { return nil })
	if err == nil {
		t.Error("list with a canceled context: no error")
	}
	stop := errors.New("stop")
	err = be.List(context.Background(), cas.FilePack, func(string, int64) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("list whose callback fails: got %v, want the callback's error", err)
	}
}
