package export

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// fetch is one chunk on its way from the store to the cluster assembler.
type fetch struct {
	off  int64
	e    volume.Entry
	data []byte
	err  error
	done chan struct{}
}

// readInOrder walks m and hands every data chunk to fn in volume order,
// reading up to workers chunks ahead in parallel. A bounded pool of fetch
// slots (and their buffers) keeps memory at about 2*workers chunks. Holes
// are counted in holes and not passed on.
func readInOrder(ctx context.Context, r blob.Reader, m *volume.Manifest, workers int, holes *int64, fn func(off int64, data []byte) error) error {
	g, ctx := errgroup.WithContext(ctx)
	slots := 2 * workers
	free := make(chan *fetch, slots)
	for range slots {
		free <- &fetch{done: make(chan struct{}, 1)}
	}
	jobs := make(chan *fetch, slots)
	order := make(chan *fetch, slots)

	g.Go(func() error {
		defer close(jobs)
		defer close(order)
		return m.Walk(ctx, r, 0, func(off int64, e volume.Entry) error {
			if e.Hole {
				*holes++
				return nil
			}
			var f *fetch
			select {
			case f = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			f.off, f.e, f.err = off, e, nil
			order <- f // never blocks: order holds as many as there are slots
			jobs <- f
			return nil
		})
	})
	for range workers {
		g.Go(func() error {
			for f := range jobs {
				data, err := r.Get(ctx, f.e.ID, f.data[:0])
				if err == nil && int64(len(data)) != f.e.Length {
					err = fmt.Errorf("chunk %s has %d bytes, manifest says %d", f.e.ID.Short(), len(data), f.e.Length)
				}
				if data != nil {
					f.data = data
				}
				f.err = err
				f.done <- struct{}{}
			}
			return nil
		})
	}
	g.Go(func() error {
		for f := range order {
			select {
			case <-f.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if f.err != nil {
				return fmt.Errorf("read chunk at offset %d: %w", f.off, f.err)
			}
			if err := fn(f.off, f.data); err != nil {
				return err
			}
			free <- f
		}
		return nil
	})
	return g.Wait()
}
