package replica

import (
	"context"
	"fmt"
	"runtime"
	"sort"

	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/internal/pipeline"
)

// Pre-pass decisions, one per frame.
const (
	frameSkip   = iota // not selected, or already at the target
	frameWrite         // at the base (or past its end): write
	frameRepair        // matches neither, under this delta's journal: rewrite
)

// plan is what the pre-pass learns before anything is written.
type plan struct {
	decide []byte
	// copies lists every copy record in walk order;
	// dests, per volume, the merged destination ranges of every record,
	// which decide whether a copy's source must be staged.
	copies []copyRec
	dests  [][]span
	// fills, per volume, the merged ranges of data and copy records: the
	// blocks apply reserves before the journal (reserve.go).
	fills [][]span
	// second marks the frames with target copies, which writeFrames
	// writes after every other frame; seconds, per volume, the ranges
	// those frames cover, and tsrcs the sources of their target copies,
	// which must not meet them (checkTargetCopies).
	second  []bool
	seconds [][]span
	tsrcs   [][]span
}

// span is a range of a volume.
type span struct{ off, len int64 }

type copyRec struct {
	vol      int
	src, n   int64
	stagedAt int64 // offset in the volume's stage file, or -1: read the replica
}

type decision struct {
	seq int
	d   byte
}

// frameTask is one frame handed to a worker, with its own copy of the
// records (and, for writing, of the stored data).
type frameTask struct {
	seq       int
	copyStart int // index in plan.copies of the frame's first copy
	f         delta.Frame
}

// forFrames walks rd's frames and runs fn on workers; fn gets frames with
// their own records and, with data set, their own stored bytes.
func forFrames(ctx context.Context, rd *delta.Reader, data bool, pre func(seq int, f *delta.Frame) bool, fn func(t *frameTask, w int) error) error {
	workers := runtime.GOMAXPROCS(0)
	return pipeline.Unordered(ctx, pipeline.Limits{Workers: workers, InFlight: 2 * workers},
		func(ctx context.Context, emit func(*frameTask) error) error {
			seq, copies := 0, 0
			return rd.WalkFrames(ctx, false, func(f *delta.Frame) error {
				t := &frameTask{seq: seq, copyStart: copies}
				for i := range f.Recs {
					if f.Recs[i].Kind == delta.KindCopy {
						copies++
					}
				}
				seq++
				if !pre(t.seq, f) {
					return nil
				}
				t.f = *f
				t.f.Recs = append([]delta.Record(nil), f.Recs...)
				if data {
					t.f.Stored = append([]byte(nil), f.Stored...)
				} else {
					t.f.Stored = nil
				}
				return emit(t)
			})
		},
		func(_ context.Context, w int, t *frameTask) error { return fn(t, w) })
}

// prepass hashes the replica's bytes of every frame's ranges and decides
// per frame whether to write it. Nothing is written here. A frame that
// matches neither hash is refused, unless jr (the journal of an earlier,
// interrupted apply of this same delta) lists its volume: then it is a
// write cut short, and the frame's full target bytes repair it.
//
// A frame to write is also assembled (data from the delta, copy sources
// from the replica, still at the base) and checked against its target
// hash, so a delta whose checksums hold but whose content is wrong is
// refused with the replica untouched. Frames with copy records of volumes
// the journal covers are not: a copy source there may already be
// overwritten (the stage holds it), and the run that wrote the journal
// checked this same delta. writeFrames checks every frame again as it
// writes.
func prepass(ctx context.Context, rd *delta.Reader, vols []*applyVol, jr *journal, sum *delta.Summary) (*plan, error) {
	p := &plan{dests: make([][]span, len(vols)), fills: make([][]span, len(vols)),
		seconds: make([][]span, len(vols)), tsrcs: make([][]span, len(vols))}
	workers := runtime.GOMAXPROCS(0)
	bufs := make([][]byte, workers)
	hs := make([]*delta.FrameHasher, workers)
	as := make([]*delta.Assembler, workers)
	for i := range hs {
		hs[i] = rd.NewFrameHasher()
		a, err := rd.NewAssembler()
		if err != nil {
			return nil, err
		}
		defer a.Close()
		as[i] = a
	}
	counts := make([]delta.Summary, workers)
	decided := make([][]decision, workers)
	frames := 0
	err := forFrames(ctx, rd, true, func(seq int, f *delta.Frame) bool {
		frames++
		p.second = append(p.second, f.TargetCopies)
		for i := range f.Recs {
			r := &f.Recs[i]
			switch r.Kind {
			case delta.KindCopy:
				p.copies = append(p.copies, copyRec{vol: f.Volume, src: r.Src, n: r.Len, stagedAt: -1})
			case delta.KindTargetCopy:
				p.tsrcs[f.Volume] = append(p.tsrcs[f.Volume], span{r.Src, r.Len})
			}
			if f.TargetCopies {
				addSpan(&p.seconds[f.Volume], r.Off, r.Len)
			}
		}
		v := vols[f.Volume]
		if v == nil {
			return false
		}
		sum.StoredBytes += int64(len(f.Stored))
		for i := range f.Recs {
			r := &f.Recs[i]
			sum.Add(r)
			addSpan(&p.dests[f.Volume], r.Off, r.Len)
			if r.Kind != delta.KindZero {
				addSpan(&p.fills[f.Volume], r.Off, r.Len)
			}
		}
		return true
	}, func(t *frameTask, w int) error {
		v := vols[t.f.Volume]
		bufs[w] = grow(bufs[w], t.f.Span)
		at := int64(0)
		for i := range t.f.Recs {
			r := &t.f.Recs[i]
			if err := readRange(v.f, bufs[w][at:at+r.Len], r.Off); err != nil {
				return fmt.Errorf("volume %q at %d: %w", v.vh.Name, r.Off, err)
			}
			at += r.Len
		}
		h := hs[w]
		h.Reset()
		h.Write(bufs[w])
		got := h.Sum()
		n := int64(len(t.f.Recs))
		c := &counts[w]
		switch {
		case got == t.f.TargetHash:
			c.Skipped += n
		case t.f.NoBase || got == t.f.BaseHash:
			c.Written += n
			c.ChangedBytes += t.f.Span
			decided[w] = append(decided[w], decision{t.seq, frameWrite})
		case jr.covers(v.vh.ID):
			c.Written += n
			c.Repaired += n
			c.ChangedBytes += t.f.Span
			decided[w] = append(decided[w], decision{t.seq, frameRepair})
		default:
			return fmt.Errorf("%w: volume %q bytes %d..%d (%d records) match neither the base nor the target; nothing was written",
				ErrNotBase, v.vh.Name, t.f.Recs[0].Off, t.f.Recs[len(t.f.Recs)-1].Off+t.f.Recs[len(t.f.Recs)-1].Len, n)
		}
		// A target copy's source holds the target only once the first
		// round is written: writeFrames checks such a frame then.
		if got == t.f.TargetHash || jr.covers(v.vh.ID) && t.f.HasCopies() || t.f.TargetCopies {
			return nil
		}
		return checkTarget(as[w], t, v)
	})
	if err == nil {
		err = p.checkTargetCopies(vols)
	}
	p.decide = make([]byte, frames)
	for _, ds := range decided {
		for _, d := range ds {
			p.decide[d.seq] = d.d
		}
	}
	for _, c := range counts {
		sum.Skipped += c.Skipped
		sum.Written += c.Written
		sum.Repaired += c.Repaired
		sum.ChangedBytes += c.ChangedBytes
	}
	return p, err
}

// checkTarget assembles t's target bytes, copy sources read from the
// replica at the base, and refuses the delta when they do not hash to the
// frame's target hash.
func checkTarget(a *delta.Assembler, t *frameTask, v *applyVol) error {
	ok, err := a.Assemble(&t.f, func(_ int, r *delta.Record, b []byte) error {
		if err := readRange(v.f, b, r.Src); err != nil {
			return fmt.Errorf("volume %q: read copy source %d+%d: %w", v.vh.Name, r.Src, r.Len, err)
		}
		return nil
	})
	if err != nil || ok {
		return err
	}
	last := &t.f.Recs[len(t.f.Recs)-1]
	why := ""
	if t.f.HasCopies() {
		// Copy sources lie outside the frame's hashed ranges; a replica
		// changed there would fail the same way.
		why = ", or the replica's copy sources for it are not the base's"
	}
	return fmt.Errorf("%w: frame %d of volume %q (bytes %d..%d) does not produce its target hash%s; nothing was written",
		ErrDamaged, t.seq, v.vh.Name, t.f.Recs[0].Off, last.Off+last.Len, why)
}

// checkTargetCopies refuses a delta whose target copy reads a range that a
// second-round frame writes: the copy would read bytes not yet written.
// The exporter never makes one (findTargetDups).
func (p *plan) checkTargetCopies(vols []*applyVol) error {
	for vi, srcs := range p.tsrcs {
		sec := p.seconds[vi]
		for _, s := range srcs {
			i := sort.Search(len(sec), func(i int) bool { return sec[i].off+sec[i].len > s.off })
			if i < len(sec) && sec[i].off < s.off+s.len {
				name := ""
				if vols[vi] != nil {
					name = vols[vi].vh.Name
				}
				return fmt.Errorf("%w: volume %q: a target copy reads %d+%d, which a frame with target copies writes",
					delta.ErrFormat, name, s.off, s.len)
			}
		}
	}
	return nil
}

// addSpan appends [off, off+n) to d, merging it with the last span when
// they meet; records come in offset order.
func addSpan(d *[]span, off, n int64) {
	if k := len(*d); k > 0 && (*d)[k-1].off+(*d)[k-1].len >= off {
		(*d)[k-1].len = max((*d)[k-1].len, off+n-(*d)[k-1].off)
	} else {
		*d = append(*d, span{off, n})
	}
}

// overlapsDest reports whether [off, off+n) of volume vol meets a range
// this delta writes.
func (p *plan) overlapsDest(vol int, off, n int64) bool {
	d := p.dests[vol]
	i := sort.Search(len(d), func(i int) bool { return d[i].off+d[i].len > off })
	return i < len(d) && d[i].off < off+n
}
