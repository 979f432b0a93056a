package volume

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"
)

// PageRef is one page as the top page lists it. Offset is derived from the
// lengths of the pages before it; it is not stored.
type PageRef struct {
	Offset  int64
	Length  int64
	Entries int
	ID      blob.ID
}

// Manifest is a loaded top page: enough to find the page that holds any
// offset without loading the others.
type Manifest struct {
	ID    blob.ID
	Size  int64
	Pages []PageRef
}

// LoadManifest reads and checks the top page id.
func LoadManifest(ctx context.Context, r blob.Reader, id blob.ID) (*Manifest, error) {
	b, err := r.Get(ctx, id, nil)
	if err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", id.Short(), err)
	}
	size, pages, err := DecodeTop(b)
	if err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", id.Short(), err)
	}
	return &Manifest{ID: id, Size: size, Pages: pages}, nil
}

// FindPage returns the index of the page holding volume offset off, or -1
// when off is outside the volume.
func (m *Manifest) FindPage(off int64) int {
	if off < 0 || off >= m.Size {
		return -1
	}
	// Largest i with Pages[i].Offset <= off; written out rather than with
	// sort.Search so the lookup stays free of closures.
	lo, hi := 0, len(m.Pages)
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if m.Pages[mid].Offset <= off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// Page is a decoded manifest page with the absolute volume offset of each
// entry.
type Page struct {
	Entries []Entry
	Offsets []int64
	end     int64 // offset just past the last entry
}

// End returns the volume offset just past the page.
func (p *Page) End() int64 { return p.end }

// Find returns the index of the entry holding volume offset off, or -1 when
// off is outside the page.
func (p *Page) Find(off int64) int {
	if len(p.Offsets) == 0 || off < p.Offsets[0] || off >= p.end {
		return -1
	}
	lo, hi := 0, len(p.Offsets)
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if p.Offsets[mid] <= off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// LoadPage reads page i of the manifest, using buf for the raw bytes.
func (m *Manifest) LoadPage(ctx context.Context, r blob.Reader, i int, buf []byte) (*Page, error) {
	p := new(Page)
	if _, err := m.LoadPageInto(ctx, r, i, p, buf); err != nil {
		return nil, err
	}
	return p, nil
}

// LoadPageInto reads page i into p, reusing p's slices and buf, and returns
// buf (grown if it had to be) for the next call. Readers that walk many
// pages, such as diff and FUSE, use it to read without allocating.
func (m *Manifest) LoadPageInto(ctx context.Context, r blob.Reader, i int, p *Page, buf []byte) ([]byte, error) {
	if i < 0 || i >= len(m.Pages) {
		return buf, fmt.Errorf("manifest %s: page %d of %d does not exist", m.ID.Short(), i, len(m.Pages))
	}
	ref := m.Pages[i]
	b, err := r.Get(ctx, ref.ID, buf)
	if err != nil {
		return buf, fmt.Errorf("manifest %s: load page %d (%s): %w", m.ID.Short(), i, ref.ID.Short(), err)
	}
	if cap(b) > cap(buf) {
		buf = b
	}
	entries, total, err := decodePage(p.Entries, b, MaxChunkLength)
	if err != nil {
		return buf, fmt.Errorf("manifest %s: page %d (%s): %w", m.ID.Short(), i, ref.ID.Short(), err)
	}
	if len(entries) != ref.Entries || total != ref.Length {
		return buf, fmt.Errorf("manifest %s: page %d (%s): %w: holds %d entries of %d bytes, top page says %d of %d",
			m.ID.Short(), i, ref.ID.Short(), ErrMalformed, len(entries), total, ref.Entries, ref.Length)
	}
	p.Entries = entries
	if cap(p.Offsets) < len(entries) {
		p.Offsets = make([]int64, len(entries))
	}
	p.Offsets = p.Offsets[:len(entries)]
	off := ref.Offset
	for j, e := range entries {
		p.Offsets[j] = off
		off += e.Length
	}
	p.end = off
	return buf, nil
}

// Walk calls fn for every entry that ends after volume offset from, in
// order, with the entry's absolute offset; the first may start before from.
// It stops at the first error fn returns and returns it.
func (m *Manifest) Walk(ctx context.Context, r blob.Reader, from int64, fn func(off int64, e Entry) error) error {
	if from < 0 {
		from = 0
	}
	start := m.FindPage(from)
	if start < 0 {
		return nil
	}
	var p Page
	var buf []byte
	for i := start; i < len(m.Pages); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if buf, err = m.LoadPageInto(ctx, r, i, &p, buf); err != nil {
			return err
		}
		j := 0
		if i == start {
			j = p.Find(from)
		}
		for ; j < len(p.Entries); j++ {
			if err := fn(p.Offsets[j], p.Entries[j]); err != nil {
				return err
			}
		}
	}
	return nil
}
