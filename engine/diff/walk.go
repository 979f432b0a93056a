package diff

import (
	"context"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// walker compares one span of target pages with the base entries under it.
type walker struct {
	ctx  context.Context
	r    blob.Reader
	a, b *volume.Manifest
	st   *Stats
	out  []Extent
	base cursor
	tp   volume.Page // the target page being walked
	buf  []byte
}

// cursor walks the base manifest's entries, loading pages lazily. It
// outlives a span: the next span often starts in the same base page.
type cursor struct {
	page   volume.Page
	pageNo int // -1 before the first load
	j      int
}

func (w *walker) span(sp pageSpan) ([]Extent, error) {
	tp := &w.tp
	for i := sp.first; i <= sp.last; i++ {
		if err := w.ctx.Err(); err != nil {
			return nil, err
		}
		var err error
		if w.buf, err = w.b.LoadPageInto(w.ctx, w.r, i, tp, w.buf); err != nil {
			return nil, err
		}
		w.st.PagesRead++
		for j, e := range tp.Entries {
			if err := w.entry(tp.Offsets[j], e); err != nil {
				return nil, err
			}
		}
	}
	return w.out, nil
}

// entry classifies one target entry at off.
func (w *walker) entry(off int64, e volume.Entry) error {
	end := off + e.Length
	if !e.Hole {
		if off < w.a.Size {
			be, boff, err := w.baseAt(off)
			if err != nil {
				return err
			}
			if boff == off && !be.Hole && be.ID == e.ID && be.Length == e.Length {
				return nil
			}
		}
		w.st.ChangedChunks++
		w.out = appendExtent(w.out, Extent{Off: off, Len: e.Length})
		return nil
	}
	// A target hole differs only where the base had data (or no bytes).
	for pos := off; pos < end; {
		if pos >= w.a.Size {
			w.out = appendExtent(w.out, Extent{Off: pos, Len: end - pos, Zero: true})
			return nil
		}
		be, boff, err := w.baseAt(pos)
		if err != nil {
			return err
		}
		next := min(boff+be.Length, end)
		if !be.Hole {
			w.out = appendExtent(w.out, Extent{Off: pos, Len: next - pos, Zero: true})
		}
		pos = next
	}
	return nil
}

// baseAt returns the base entry holding off (off < base size) and its
// offset. Offsets asked for only grow within a span, so the cursor moves
// forward and reloads only when off leaves the current page; a jump (a new
// span) costs one binary search.
func (w *walker) baseAt(off int64) (volume.Entry, int64, error) {
	c := &w.base
	if c.pageNo < 0 || off < c.page.Offsets[0] || off >= c.page.End() {
		i := w.a.FindPage(off)
		var err error
		if w.buf, err = w.a.LoadPageInto(w.ctx, w.r, i, &c.page, w.buf); err != nil {
			return volume.Entry{}, 0, err
		}
		w.st.PagesRead++
		c.pageNo, c.j = i, 0
	}
	if off < c.page.Offsets[c.j] {
		c.j = c.page.Find(off)
	}
	for c.j+1 < len(c.page.Offsets) && c.page.Offsets[c.j+1] <= off {
		c.j++
	}
	return c.page.Entries[c.j], c.page.Offsets[c.j], nil
}
