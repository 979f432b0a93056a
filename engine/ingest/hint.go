package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

// Hint says what changed in a volume since a base snapshot of it, so that
// ingest reads only the changed parts. The manifest it makes is the one a
// full read would make (same ID); a Hint that misses a change breaks that,
// so only a source that knows its changes may give one.
//
// What is reused is conservative: whole runs of entries between two holes
// that are surely zero runs (not all-zero chunks), since ingest chunks every
// run of data from its own first byte, so such a run's entries depend on its
// bytes alone and on HoleMin zero bytes on each side. Unchanged hole ranges
// of the base are known to be zeros and are not read either.
type Hint struct {
	Base    *volume.Manifest
	Pages   blob.Reader    // where Base's pages are
	Changed []source.Range // may be unsorted or overlap
	// Exact says the source vouches that every byte outside Changed is
	// Base's byte at the same offset (a QEMU dirty bitmap does), so the
	// unchanged bytes a read needs around a change are taken from Base's
	// chunks instead of the source (see splicer).
	Exact bool
}

// anchorMin is the least length of a base hole that is surely a zero run.
// An all-zero chunk inside a data run holds fewer than HoleMin/blockSize
// aligned zero blocks (else it would have become a hole), so it spans less
// than HoleMin plus two partial blocks.
const anchorMin = HoleMin + 2*blockSize

type stepKind uint8

const (
	stepRead stepKind = iota // read the source (where it is allocated)
	stepZero                 // known zeros: not read
	stepCopy                 // reuse the base's entries: not read
)

type step struct {
	off, end int64
	kind     stepKind
}

// plan is the volume cut into steps, in order, covering [0, size).
type plan struct {
	steps []step
	next  int
	base  *volume.Manifest
	pages blob.Reader
	sync  syncPoints // where a read may go back to the base's entries
}

// at returns the step holding volume offset off; steps are visited in
// increasing order, so the search only moves forward.
func (p *plan) at(off int64) step {
	for p.next < len(p.steps) && p.steps[p.next].end <= off {
		p.next++
	}
	if p.next == len(p.steps) {
		return step{off: off, end: 1<<63 - 1, kind: stepRead}
	}
	if st := p.steps[p.next]; st.off > off {
		return step{off: off, end: st.off, kind: stepRead}
	}
	return p.steps[p.next]
}

// makePlan turns a hint into steps. It walks the base manifest once and
// keeps only its holes.
func makePlan(ctx context.Context, h *Hint, size int64) (*plan, error) {
	if h.Base.Size != size {
		return nil, nil // a resized volume is read in full
	}
	changed := normalize(h.Changed, size)
	var holes, anchors []source.Range
	var bounds []int64
	prevData := false
	err := h.Base.Walk(ctx, h.Pages, 0, func(off int64, e volume.Entry) error {
		if !e.Hole && prevData {
			bounds = append(bounds, off)
		}
		prevData = !e.Hole
		if e.Hole {
			holes = append(holes, source.Range{Off: off, Len: e.Length})
			if e.Length >= anchorMin {
				anchors = append(anchors, source.Range{Off: off, Len: e.Length})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hint: walk base manifest %s: %w", h.Base.ID.Short(), err)
	}
	var copies []source.Range
	prevEnd := int64(0)
	for i := 0; i <= len(anchors); i++ {
		next := size
		if i < len(anchors) {
			next = anchors[i].Off
		}
		// The run's entries hold if its bytes and HoleMin zeros on each
		// side are unchanged.
		guard := source.Range{Off: max(prevEnd-HoleMin, 0), Len: min(next+HoleMin, size) - max(prevEnd-HoleMin, 0)}
		if next > prevEnd && !overlapsAny(changed, guard) {
			copies = append(copies, source.Range{Off: prevEnd, Len: next - prevEnd})
		}
		if i < len(anchors) {
			prevEnd = anchors[i].Off + anchors[i].Len
		}
	}
	zeros := subtract(subtract(holes, changed), copies)
	p := &plan{base: h.Base, pages: h.Pages,
		sync: syncPoints{changed: changed, bounds: bounds, anchors: anchors, size: size}}
	for _, z := range zeros {
		// Known zeros feed the segmenter whole blocks only.
		s, e := alignUp(z.Off), min((z.Off+z.Len)&^(blockSize-1), size)
		if z.Off+z.Len == size {
			e = size
		}
		if e > s {
			p.steps = append(p.steps, step{off: s, end: e, kind: stepZero})
		}
	}
	for _, c := range copies {
		p.steps = append(p.steps, step{off: c.Off, end: c.Off + c.Len, kind: stepCopy})
	}
	slices.SortFunc(p.steps, func(a, b step) int { return cmpInt(a.off, b.off) })
	return p, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// normalize sorts, clips and merges ranges, widening each to whole blocks.
func normalize(rs []source.Range, size int64) []source.Range {
	var out []source.Range
	for _, r := range rs {
		s, e := max(r.Off&^(blockSize-1), 0), min(alignUp(r.Off+r.Len), size)
		if r.Len > 0 && e > s {
			out = append(out, source.Range{Off: s, Len: e - s})
		}
	}
	slices.SortFunc(out, func(a, b source.Range) int { return cmpInt(a.Off, b.Off) })
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && merged[n-1].Off+merged[n-1].Len >= r.Off {
			merged[n-1].Len = max(merged[n-1].Off+merged[n-1].Len, r.Off+r.Len) - merged[n-1].Off
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

func overlapsAny(sorted []source.Range, r source.Range) bool {
	i, _ := slices.BinarySearchFunc(sorted, r.Off, func(x source.Range, off int64) int {
		return cmpInt(x.Off+x.Len, off+1)
	})
	return i < len(sorted) && sorted[i].Off < r.Off+r.Len && sorted[i].Off+sorted[i].Len > r.Off
}

// subtract returns a minus b; both sorted and disjoint.
func subtract(a, b []source.Range) []source.Range {
	var out []source.Range
	j := 0
	for _, r := range a {
		s, e := r.Off, r.Off+r.Len
		for j < len(b) && b[j].Off+b[j].Len <= s {
			j++
		}
		for k := j; k < len(b) && b[k].Off < e; k++ {
			if b[k].Off > s {
				out = append(out, source.Range{Off: s, Len: b[k].Off - s})
			}
			s = max(s, b[k].Off+b[k].Len)
		}
		if e > s {
			out = append(out, source.Range{Off: s, Len: e - s})
		}
	}
	return out
}

var errStopWalk = errors.New("stop walk")

// copyRun hands out the base's entries for [off, end) without reading. The
// segmenter must be where a full read would start a fresh run there: at the
// volume start, or inside a hole.
func (s *segmenter) copyRun(ctx context.Context, off, end int64) error {
	if s.inHole {
		if err := s.emitHole(s.pos-s.zr, s.zr); err != nil {
			return err
		}
		s.inHole = false
	}
	err := s.plan.base.Walk(ctx, s.plan.pages, off, func(eoff int64, e volume.Entry) error {
		if eoff >= end {
			return errStopWalk
		}
		if eoff < off || eoff+e.Length > end {
			return fmt.Errorf("hint: base entry [%d,%d) straddles the run [%d,%d)", eoff, eoff+e.Length, off, end)
		}
		return s.emit(extent{off: eoff, length: e.Length, entry: e, copied: true})
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return err
	}
	s.pos, s.segOff, s.segStart, s.zr = end, end, s.w, 0
	s.stats.CopiedBytes += end - off
	return nil
}

// canCopy reports whether the segmenter is in the state a full read is in at
// the start of a reusable run.
func (s *segmenter) canCopy(off int64) bool {
	if s.pos != off || s.w != s.segStart {
		return false
	}
	return s.inHole || off == 0 && s.zr == 0
}

// advance processes [pos, end) following the plan; allocated says whether
// the source reports those bytes as possibly holding data.
func (s *segmenter) advance(ctx context.Context, end int64, allocated bool) error {
	for s.pos < end {
		st := step{off: s.pos, end: end, kind: stepRead}
		if s.plan != nil {
			st = s.plan.at(s.pos)
		}
		stop := min(st.end, end)
		switch {
		case st.kind == stepCopy && s.canCopy(st.off):
			// The run is covered whole, even past end.
			if err := s.copyRun(ctx, st.off, st.end); err != nil {
				return err
			}
		case st.kind == stepRead && allocated:
			if err := s.read(ctx, stop); err != nil {
				return err
			}
		default:
			if err := s.zerosOrRead(ctx, stop-s.pos, st.kind, allocated); err != nil {
				return err
			}
		}
	}
	return nil
}

// zerosOrRead accounts for n known zero bytes, or reads a reusable run whose
// start state did not hold.
func (s *segmenter) zerosOrRead(ctx context.Context, n int64, kind stepKind, allocated bool) error {
	if kind == stepCopy && allocated {
		return s.read(ctx, s.pos+n)
	}
	return s.zeros(ctx, n)
}
