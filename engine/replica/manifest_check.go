package replica

import (
	"context"
	"io"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/zero"
)

// rangeDiff is where a volume's bytes differ from a manifest: the first
// differing range (a chunk, or the 4 KiB block of a hole that holds data)
// and how many ranges differ. Count 0: they agree.
type rangeDiff struct {
	Off, Len, Count int64
}

func (d *rangeDiff) note(off, n int64) {
	if d.Count == 0 {
		d.Off, d.Len = off, n
	}
	d.Count++
}

// compareManifest reads f against the manifest id, chunk by chunk: each
// chunk's range must hash to the chunk's ID and each hole must read as
// zeros. It needs the manifest's pages, never chunk data. done, when set,
// is told of the bytes compared.
func compareManifest(ctx context.Context, r blob.Reader, id blob.ID, f io.ReaderAt, done func(int64)) (rangeDiff, error) {
	var d rangeDiff
	m, err := volume.LoadManifest(ctx, r, id)
	if err != nil {
		return d, err
	}
	var buf []byte
	chunks := 0
	err = m.Walk(ctx, r, 0, func(off int64, e volume.Entry) error {
		// Walk checks ctx per page; a page may cover many MiB.
		if chunks++; chunks%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !e.Hole {
			// One chunk is one blob, bounded by the blob limit: one read.
			buf = grow(buf, e.Length)
			if err := readRange(f, buf, off); err != nil {
				return err
			}
			if blob.Sum(buf) != e.ID {
				d.note(off, e.Length)
			}
			if done != nil {
				done(e.Length)
			}
			return nil
		}
		for pos, end := off, off+e.Length; pos < end; {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(end-pos, 4<<20)
			buf = grow(buf, n)
			if err := readRange(f, buf, pos); err != nil {
				return err
			}
			if i := zero.First(buf); i >= 0 {
				blk := max(off, (pos+int64(i))&^4095)
				d.note(blk, min(4096, end-blk))
			}
			if done != nil {
				done(n)
			}
			pos += n
		}
		return nil
	})
	return d, err
}

// grow returns b resized to n bytes, reallocated only when too small.
func grow(b []byte, n int64) []byte {
	if int64(cap(b)) < n {
		return make([]byte, n)
	}
	return b[:n]
}
