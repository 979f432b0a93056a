package replica

import (
	"context"
	"fmt"
	"runtime"
	"slices"

	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/internal/vfs"
)

// writeFrames grows files, writes the frames the pre-pass chose on
// workers (frames never overlap, so order does not matter), shrinks files
// and syncs each once. Each frame's target bytes are assembled and checked
// against its target hash before any of them is written, so a copy source
// that is not what the export saw is refused rather than written.
func writeFrames(ctx context.Context, rd *delta.Reader, vols []*applyVol, p *plan, stages []vfs.File) error {
	for _, v := range vols {
		if v != nil && !v.block {
			if fi, err := v.f.Stat(); err != nil {
				return err
			} else if fi.Size() < v.vh.TargetSize {
				if err := v.f.Truncate(v.vh.TargetSize); err != nil {
					return fmt.Errorf("grow volume %q: %w", v.vh.Name, err)
				}
			}
		}
	}
	workers := runtime.GOMAXPROCS(0)
	as := make([]*delta.Assembler, workers)
	for i := range as {
		a, err := rd.NewAssembler()
		if err != nil {
			return err
		}
		defer a.Close()
		as[i] = a
	}
	// Frames with target copies go in a second round, once the bytes
	// their copies read are the target's.
	for round := range 2 {
		second := round == 1
		if second && !slices.Contains(p.second, true) {
			break
		}
		if err := writeRound(ctx, rd, vols, p, stages, as, second); err != nil {
			return err
		}
	}
	for _, v := range vols {
		if v == nil {
			continue
		}
		if !v.block {
			if err := v.f.Truncate(v.vh.TargetSize); err != nil {
				return fmt.Errorf("resize volume %q: %w", v.vh.Name, err)
			}
		}
		if err := v.f.Sync(); err != nil {
			return fmt.Errorf("sync volume %q: %w", v.vh.Name, err)
		}
	}
	return nil
}

// writeRound writes the frames the pre-pass chose, those with target
// copies (second) or those without.
func writeRound(ctx context.Context, rd *delta.Reader, vols []*applyVol, p *plan, stages []vfs.File, as []*delta.Assembler, second bool) error {
	return forFrames(ctx, rd, true, func(seq int, f *delta.Frame) bool {
		return p.decide[seq] != frameSkip && p.second[seq] == second
	}, func(t *frameTask, w int) error {
		a := as[w]
		v := vols[t.f.Volume]
		ok, err := a.Assemble(&t.f, func(i int, r *delta.Record, b []byte) error {
			var err error
			if i < 0 {
				err = readRange(v.f, b, r.Src) // a target copy: written in the first round
			} else if c := &p.copies[t.copyStart+i]; c.stagedAt >= 0 {
				_, err = stages[t.f.Volume].ReadAt(b, c.stagedAt)
			} else {
				err = readRange(v.f, b, r.Src)
			}
			if err != nil {
				return fmt.Errorf("volume %q: read copy source %d+%d: %w", v.vh.Name, r.Src, r.Len, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !ok && !t.f.HasCopies() {
			return fmt.Errorf("%w: frame %d of volume %q (bytes %d..) does not produce its target hash (the delta file changed during the apply?)",
				ErrDamaged, t.seq, v.vh.Name, t.f.Recs[0].Off)
		}
		if !ok {
			// The pre-pass checked this frame (unless a journal let it
			// skip that): a copy source or the delta file changed since.
			return fmt.Errorf("%w: volume %q: the frame at %d assembles to bytes that differ from its target hash (a copy source or the delta file changed during the apply?)",
				ErrNotBase, v.vh.Name, t.f.Recs[0].Off)
		}
		at := int64(0)
		for i := range t.f.Recs {
			r := &t.f.Recs[i]
			if r.Kind == delta.KindZero {
				err = v.t.Zero(r.Off, r.Len)
			} else {
				_, err = v.t.WriteAt(a.Bytes()[at:at+r.Len], r.Off)
			}
			if err != nil {
				return fmt.Errorf("volume %q at %d: %w", v.vh.Name, r.Off, err)
			}
			at += r.Len
		}
		return nil
	})
}
