package source

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/internal/nbd"
)

// metaAllocation is the NBD meta context that says which ranges hold data.
const metaAllocation = "base:allocation"

// base:allocation flags.
const (
	nbdStateHole = 1 << 0
	nbdStateZero = 1 << 1
)

// nbdReader reads an export of an NBD server.
type nbdReader struct {
	c   *nbd.Conn
	uri string
}

// IsNBD reports whether a volume's source names an NBD export
// (nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH) rather than
// a path.
func IsNBD(src string) bool { return nbd.IsURI(src) }

// openNBD connects to the export an NBD URI names.
func openNBD(ctx context.Context, uri string) (Reader, error) {
	t, err := nbd.ParseURI(uri)
	if err != nil {
		return nil, err
	}
	c, err := nbd.Dial(ctx, t, nbd.Options{MetaContexts: []string{metaAllocation}})
	if err != nil {
		return nil, err
	}
	return &nbdReader{c: c, uri: uri}, nil
}

func (r *nbdReader) ReadAt(p []byte, off int64) (int, error) { return r.c.ReadAt(p, off) }
func (r *nbdReader) Size() int64                             { return r.c.Size() }
func (r *nbdReader) Format() string                          { return "nbd" }
func (r *nbdReader) Close() error                            { return r.c.Close() }

// Allocated reports the ranges base:allocation does not call zero; a
// server without that context reports everything.
func (r *nbdReader) Allocated(ctx context.Context, fn func(Range) error) error {
	return allocatedNBD(ctx, r.c, fn)
}

func allocatedNBD(ctx context.Context, c *nbd.Conn, fn func(Range) error) error {
	if !c.HasContext(metaAllocation) {
		return fn(Range{Off: 0, Len: c.Size()})
	}
	var cur Range
	err := c.BlockStatus(ctx, metaAllocation, 0, c.Size(), func(e nbd.Extent) error {
		if e.Flags&nbdStateZero != 0 {
			return nil
		}
		if cur.Len > 0 && cur.Off+cur.Len == e.Off {
			cur.Len += e.Length
			return nil
		}
		if cur.Len > 0 {
			if err := fn(cur); err != nil {
				return err
			}
		}
		cur = Range{Off: e.Off, Len: e.Length}
		return nil
	})
	if err != nil {
		return fmt.Errorf("allocation map: %w", err)
	}
	if cur.Len > 0 {
		return fn(cur)
	}
	return nil
}
