package ingest

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

// splicer serves the reads of a hinted ingest whose hint is exact (a dirty
// bitmap): only the bytes of a changed range come from the source; the
// others are the base snapshot's bytes at the same offsets, which the hint
// vouches equal the source's, and are taken from the base's chunks in the
// store. The segmenter sees the same bytes either way, so the manifest is
// the one a full read makes. Any doubt (a chunk that cannot be loaded, or
// of the wrong length) reads that part from the source instead.
type splicer struct {
	ctx     context.Context
	src     source.Reader
	base    *volume.Manifest
	pages   blob.Reader
	changed []source.Range // normalized

	// ents is a window of the base's entries, from one Walk.
	ents []baseEntry
	// chunk is the last base chunk loaded.
	chunkID  blob.ID
	chunk    []byte
	hasChunk bool
}

type baseEntry struct {
	off int64
	e   volume.Entry
}

// spliceWindow is how many base entries one Walk keeps.
const spliceWindow = 256

func newSplicer(ctx context.Context, src source.Reader, h *Hint, size int64) *splicer {
	if !h.Exact || h.Base == nil || h.Pages == nil || h.Base.Size != size {
		return nil
	}
	return &splicer{ctx: ctx, src: src, base: h.Base, pages: h.Pages, changed: normalize(h.Changed, size)}
}

// readAt fills p with the volume's bytes at off and returns how many of
// them came from the base rather than the source.
func (sp *splicer) readAt(p []byte, off int64) (n, fromBase int, err error) {
	end := off + int64(len(p))
	i, _ := slices.BinarySearchFunc(sp.changed, off, func(r source.Range, o int64) int { return cmpInt(r.Off+r.Len, o+1) })
	for pos := off; pos < end; {
		// [pos, next) is unchanged, then [next, stop) changed.
		next, stop := end, end
		if i < len(sp.changed) && sp.changed[i].Off < end {
			next = max(sp.changed[i].Off, pos)
			stop = min(sp.changed[i].Off+sp.changed[i].Len, end)
			i++
		}
		if next > pos {
			if sp.fromBase(p[pos-off:next-off], pos) {
				fromBase += int(next - pos)
			} else if got, err := sp.src.ReadAt(p[pos-off:next-off], pos); got < int(next-pos) {
				return int(pos-off) + got, fromBase, err
			}
		}
		if stop > next {
			if got, err := sp.src.ReadAt(p[next-off:stop-off], next); got < int(stop-next) {
				return int(next-off) + got, fromBase, err
			}
		}
		pos = stop
	}
	return len(p), fromBase, nil
}

// fromBase fills p with the base's bytes at off, or reports false.
func (sp *splicer) fromBase(p []byte, off int64) bool {
	end := off + int64(len(p))
	for pos := off; pos < end; {
		be, ok := sp.entryAt(pos)
		if !ok {
			return false
		}
		lo, hi := pos-be.off, min(end, be.off+be.e.Length)-be.off
		if be.e.Hole {
			clear(p[pos-off : pos-off+hi-lo])
		} else {
			data, ok := sp.load(be.e)
			if !ok {
				return false
			}
			copy(p[pos-off:], data[lo:hi])
		}
		pos = be.off + hi
	}
	return true
}

// entryAt returns the base entry holding off.
func (sp *splicer) entryAt(off int64) (baseEntry, bool) {
	find := func() (baseEntry, bool) {
		j, _ := slices.BinarySearchFunc(sp.ents, off, func(b baseEntry, o int64) int { return cmpInt(b.off+b.e.Length, o+1) })
		if j < len(sp.ents) && sp.ents[j].off <= off && off < sp.ents[j].off+sp.ents[j].e.Length {
			return sp.ents[j], true
		}
		return baseEntry{}, false
	}
	if be, ok := find(); ok {
		return be, true
	}
	sp.ents = sp.ents[:0]
	err := sp.base.Walk(sp.ctx, sp.pages, off, func(eoff int64, e volume.Entry) error {
		if len(sp.ents) == spliceWindow {
			return errStopWalk
		}
		sp.ents = append(sp.ents, baseEntry{off: eoff, e: e})
		return nil
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		sp.ents = sp.ents[:0]
		return baseEntry{}, false
	}
	return find()
}

// load returns a base chunk's bytes, checked by the store against its ID.
func (sp *splicer) load(e volume.Entry) ([]byte, bool) {
	if sp.hasChunk && sp.chunkID == e.ID {
		return sp.chunk, true
	}
	data, err := sp.pages.Get(sp.ctx, e.ID, sp.chunk[:0])
	if err != nil || int64(len(data)) != e.Length {
		sp.hasChunk = false
		return nil, false
	}
	sp.chunk, sp.chunkID, sp.hasChunk = data, e.ID, true
	return data, true
}

// readSource reads p at off for the segmenter, through the splicer when
// there is one, and counts the bytes by where they came from.
func (s *segmenter) readSource(p []byte, off int64) (int, error) {
	if s.splice == nil {
		n, err := s.src.ReadAt(p, off)
		atomic.AddInt64(&s.stats.ReadBytes, int64(n))
		return n, err
	}
	n, fromBase, err := s.splice.readAt(p, off)
	atomic.AddInt64(&s.stats.BaseBytes, int64(fromBase))
	atomic.AddInt64(&s.stats.ReadBytes, int64(n-fromBase))
	return n, err
}
