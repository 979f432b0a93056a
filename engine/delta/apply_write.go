package delta

import (
	"context"
	"fmt"
	"runtime"

	"github.com/klauspost/compress/zstd"

	"github.com/vmrep/vmrep/internal/vfs"
)

// writeFrames grows files, writes the frames the pre-pass chose on
// workers (frames never overlap, so order does not matter), shrinks files
// and syncs each once. Each frame's target bytes are assembled and checked
// against its target hash before any of them is written, so a copy source
// that is not what the export saw is refused rather than written.
func writeFrames(ctx context.Context, rd *Reader, vols []*applyVol, p *plan, stages []vfs.File) error {
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
	type state struct {
		dec *zstd.Decoder
		h   *frameHasher
		buf []byte
		out []byte
	}
	ws := make([]state, workers)
	for i := range ws {
		dec, err := newDecoder()
		if err != nil {
			return err
		}
		defer dec.Close()
		ws[i] = state{dec: dec, h: newFrameHasher(rd.version)}
	}
	err := forFrames(ctx, rd, true, func(seq int, f *Frame) bool {
		return p.decide[seq] != frameSkip
	}, func(t *frameTask, w int) error {
		s := &ws[w]
		v := vols[t.f.Volume]
		var err error
		if s.out, err = t.f.decodeData(s.dec, s.out); err != nil {
			return err
		}
		s.buf = grow(s.buf, t.f.Span)
		at, ci := int64(0), t.copyStart
		for i := range t.f.Recs {
			r := &t.f.Recs[i]
			b := s.buf[at : at+r.Len]
			switch r.Kind {
			case KindData:
				copy(b, r.Data)
			case KindZero:
				clear(b)
			case KindCopy:
				c := &p.copies[ci]
				ci++
				if c.stagedAt >= 0 {
					_, err = stages[t.f.Volume].ReadAt(b, c.stagedAt)
				} else {
					err = readRange(v.f, b, r.Src)
				}
				if err != nil {
					return fmt.Errorf("volume %q: read copy source %d+%d: %w", v.vh.Name, r.Src, r.Len, err)
				}
			}
			at += r.Len
		}
		s.h.Reset()
		s.h.Write(s.buf)
		if s.h.Sum() != t.f.TargetHash {
			return fmt.Errorf("%w: volume %q: the frame at %d assembles to bytes that differ from its target hash (a copy source changed?)",
				ErrNotBase, v.vh.Name, t.f.Recs[0].Off)
		}
		at = 0
		for i := range t.f.Recs {
			r := &t.f.Recs[i]
			if r.Kind == KindZero {
				err = v.t.Zero(r.Off, r.Len)
			} else {
				_, err = v.t.WriteAt(s.buf[at:at+r.Len], r.Off)
			}
			if err != nil {
				return fmt.Errorf("volume %q at %d: %w", v.vh.Name, r.Off, err)
			}
			at += r.Len
		}
		return nil
	})
	if err != nil {
		return err
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
