package build

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// volReader reads byte ranges of a volume from its manifest. It keeps the
// last page and chunk, since callers read forward in ranges that often share
// a chunk. Not safe for concurrent use; a nil manifest reads as zeros.
type volReader struct {
	r     blob.Reader
	m     *volume.Manifest
	page  volume.Page
	pno   int
	pbuf  []byte
	chunk []byte
	cid   blob.ID
}

func newVolReader(r blob.Reader, m *volume.Manifest) *volReader {
	return &volReader{r: r, m: m, pno: -1}
}

// read fills p with the bytes at off; bytes past the volume's end are zero.
func (v *volReader) read(ctx context.Context, p []byte, off int64) error {
	for len(p) > 0 {
		if v.m == nil || off >= v.m.Size {
			clear(p)
			return nil
		}
		if err := v.loadPage(ctx, off); err != nil {
			return err
		}
		j := v.page.Find(off)
		e, eoff := v.page.Entries[j], v.page.Offsets[j]
		n := min(int64(len(p)), eoff+e.Length-off)
		if e.Hole {
			clear(p[:n])
		} else {
			if v.cid != e.ID || v.chunk == nil {
				b, err := v.r.Get(ctx, e.ID, v.chunk)
				if err != nil {
					return fmt.Errorf("read volume at %d: %w", off, err)
				}
				if int64(len(b)) != e.Length {
					return fmt.Errorf("read volume at %d: chunk %s has %d bytes, manifest says %d", off, e.ID.Short(), len(b), e.Length)
				}
				v.chunk, v.cid = b, e.ID
			}
			copy(p[:n], v.chunk[off-eoff:])
		}
		p, off = p[n:], off+n
	}
	return nil
}

// entries calls fn for every data chunk of the volume overlapping
// [off, end), in order.
func (v *volReader) entries(ctx context.Context, off, end int64, fn func(eoff, elen int64, id [32]byte)) error {
	for off < end && v.m != nil && off < v.m.Size {
		if err := v.loadPage(ctx, off); err != nil {
			return err
		}
		j := v.page.Find(off)
		for ; j < len(v.page.Entries) && v.page.Offsets[j] < end; j++ {
			e := v.page.Entries[j]
			if !e.Hole {
				fn(v.page.Offsets[j], e.Length, e.ID)
			}
			off = v.page.Offsets[j] + e.Length
		}
	}
	return nil
}

// loadPage makes the page holding off current.
func (v *volReader) loadPage(ctx context.Context, off int64) error {
	if v.pno >= 0 && off >= v.page.Offsets[0] && off < v.page.End() {
		return nil
	}
	i := v.m.FindPage(off)
	var err error
	if v.pbuf, err = v.m.LoadPageInto(ctx, v.r, i, &v.page, v.pbuf); err != nil {
		v.pno = -1
		return err
	}
	v.pno = i
	return nil
}
