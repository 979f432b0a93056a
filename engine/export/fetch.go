package export

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/pipeline"
)

// chunkAt is a data chunk of the manifest to read.
type chunkAt struct {
	off int64
	e   volume.Entry
}

// fetched is a chunk read from the store. Its slot in the pipeline keeps
// data from one chunk to the next, so reads reuse it.
type fetched struct {
	off  int64
	data []byte
	err  error
}

// readInOrder walks m and hands every data chunk to fn in volume order,
// reading up to workers chunks ahead in parallel. 2*workers chunks in flight
// (and their buffers) keep memory at about 2*workers chunks. Holes are
// counted in holes and not passed on.
func readInOrder(ctx context.Context, r blob.Reader, m *volume.Manifest, workers int, holes *int64, fn func(off int64, data []byte) error) error {
	return pipeline.Ordered(ctx, pipeline.Limits{Workers: workers, InFlight: 2 * workers},
		func(ctx context.Context, emit func(chunkAt) error) error {
			return m.Walk(ctx, r, 0, func(off int64, e volume.Entry) error {
				if e.Hole {
					*holes++
					return nil
				}
				return emit(chunkAt{off, e})
			})
		},
		func(ctx context.Context, _ int, c chunkAt, f *fetched) error {
			data, err := r.Get(ctx, c.e.ID, f.data[:0])
			if err == nil && int64(len(data)) != c.e.Length {
				err = fmt.Errorf("chunk %s has %d bytes, manifest says %d", c.e.ID.Short(), len(data), c.e.Length)
			}
			if data != nil {
				f.data = data
			}
			// A failed read is reported in volume order, by the consumer,
			// so the first bad chunk of the volume is the one named.
			f.off, f.err = c.off, err
			return nil
		},
		func(_ context.Context, f *fetched) error {
			if f.err != nil {
				return fmt.Errorf("read chunk at offset %d: %w", f.off, f.err)
			}
			return fn(f.off, f.data)
		})
}
