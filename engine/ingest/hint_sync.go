package ingest

import (
	"context"
	"fmt"
	"slices"

	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/internal/zero"
)

// syncReadSize is the read step of a hinted read, which checks after each
// step whether it can go back to the base's entries.
const syncReadSize = 16 << 10

// syncPoints lets a read inside a changed run go back to the base's entries
// once it is past the change, instead of reading the run to its end.
//
// Why it holds: a chunk boundary depends only on the bytes from the chunk's
// start up to it, and the state of the reader after a boundary that is not
// a segment's end depends only on the bytes after it (a zero run it counts
// starts at or after the boundary). So when the read cuts at Q, a boundary
// between two data entries of the base, and no byte in [Q, R) changed, a
// full read's entries in [Q, R) are the base's. R must be where a full read
// is at a boundary in that same state: a base boundary between two data
// entries before the next change whose previous block is not zero (else a
// zero run across R could become a hole with the changed bytes after R), or
// the start of a base hole of at least anchorMin that no change touches in
// its first HoleMin bytes, where the run ends in both.
type syncPoints struct {
	changed []source.Range // normalized
	bounds  []int64        // base offsets where a data entry follows a data entry
	anchors []source.Range // base holes of at least anchorMin
	size    int64
}

// end returns where entries copied from q may stop, or q when none may be.
// q must be a boundary of the read in the state described above. probe
// reads the block before a candidate stop.
func (p *syncPoints) end(q int64, probe func(off int64) (bool, error)) (int64, error) {
	// The first change ending after q must start at or after it.
	i, _ := slices.BinarySearchFunc(p.changed, q, func(r source.Range, off int64) int { return cmpInt(r.Off+r.Len, off+1) })
	limit := p.size
	if i < len(p.changed) {
		if p.changed[i].Off < q {
			return q, nil
		}
		limit = p.changed[i].Off
	}
	// The run ends at the next anchor after q; copy to it when no change
	// touches the hole's first HoleMin bytes.
	j, _ := slices.BinarySearchFunc(p.anchors, q, func(r source.Range, off int64) int { return cmpInt(r.Off, off) })
	if j < len(p.anchors) {
		a := p.anchors[j]
		if a.Off+HoleMin <= limit || i == len(p.changed) {
			return a.Off, nil
		}
		limit = min(limit, a.Off)
	} else if i == len(p.changed) {
		return p.size, nil
	}
	// Else the last base boundary at or before the change, past q.
	k, _ := slices.BinarySearch(p.bounds, limit+1)
	for k--; k >= 0 && p.bounds[k] > q; k-- {
		ok, err := probe(p.bounds[k])
		if err != nil {
			return q, err
		}
		if ok {
			return p.bounds[k], nil
		}
	}
	return q, nil
}

// isRunStart reports whether off starts a base run: the volume's start or
// the end of an anchor.
func (p *syncPoints) isRunStart(off int64) bool {
	if off == 0 {
		return true
	}
	i, ok := slices.BinarySearchFunc(p.anchors, off, func(r source.Range, o int64) int { return cmpInt(r.Off+r.Len, o) })
	return ok && i < len(p.anchors)
}

func (p *syncPoints) isBound(off int64) bool {
	_, ok := slices.BinarySearch(p.bounds, off)
	return ok
}

// probe reports whether a read may start afresh at off: zero runs are
// counted in aligned blocks, so the block a full read classifies around off
// must be one no zero run crosses. At an aligned off that is the block
// before it; else the rest of off's block, which the resumed read then
// classifies alone (read stops at the next aligned offset) as nonzero, as
// a full read classifies the whole block.
func (s *segmenter) probe(off int64) (bool, error) {
	var b [blockSize]byte
	start, end := max(off-blockSize, 0), off
	if off%blockSize != 0 {
		start, end = off, alignUp(off)
	}
	n, err := s.readSource(b[:end-start], start)
	if n < int(end-start) {
		return false, fmt.Errorf("read at offset %d: %w", start, err)
	}
	return !zero.Is(b[:n]), nil
}

// syncAtRunStart copies the base's entries from the start of a run (after
// a hole, or at 0) when the change in it starts later.
func (s *segmenter) syncAtRunStart(ctx context.Context) (bool, error) {
	if !s.canCopy(s.pos) || !s.plan.sync.isRunStart(s.pos) {
		return false, nil
	}
	r, err := s.plan.sync.end(s.pos, s.probe)
	if err != nil || r <= s.pos {
		return false, err
	}
	return true, s.copyRun(ctx, s.pos, r)
}

// syncAfterCut cuts what the bytes held already decide and, at the first
// boundary that is a sync point, drops the bytes read past it and copies
// the base's entries from there.
func (s *segmenter) syncAfterCut(ctx context.Context) (bool, error) {
	if s.inHole {
		return false, nil
	}
	confirmed := s.w - int(s.zr)
	for {
		q := s.segOff
		if s.plan.sync.isBound(q) {
			r, err := s.plan.sync.end(q, s.probe)
			if err != nil {
				return false, err
			}
			if r > q {
				s.w, s.pos, s.zr = s.segStart, q, 0
				return true, s.copyRun(ctx, q, r)
			}
		}
		n, ok := s.cut.Peek(s.buf.data[s.segStart:confirmed])
		if !ok {
			return false, nil
		}
		if err := s.emitChunk(n); err != nil {
			return false, err
		}
	}
}
