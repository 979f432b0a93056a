package build

import (
	"context"

	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/diff"
	"github.com/vmrep/vmrep/internal/zero"
)

// blockSize is the unit changes are compared and recorded in.
const blockSize = 4096

// span is one range of a job.
type span struct{ off, len int64 }

// job is a set of ranges of one volume, in offset order, that becomes one
// frame (or more, when refinement leaves too many records). Its ranges
// cover at most delta.MaxFrameLen bytes and lie all before or all past the base
// volume's end.
type job struct {
	vol    int
	noBase bool
	spans  []span
	total  int64
}

// planJobs widens changed extents to whole 4 KiB blocks, merges those that
// then overlap, and packs the result into jobs of at most delta.MaxFrameLen
// bytes that do not straddle the base's end. Packing scattered extents
// into one job is what lets one pair of hashes cover many small records.
func planJobs(vol int, ext []diff.Extent, baseSize, targetSize int64) []job {
	var out []job
	var cur job
	flushJob := func() {
		if cur.total > 0 {
			out = append(out, cur)
		}
		cur = job{vol: vol}
	}
	add := func(s, end int64) {
		for s < end {
			noBase := s >= baseSize
			e := end
			if !noBase && e > baseSize {
				e = baseSize
			}
			if cur.total > 0 && (cur.noBase != noBase || cur.total == delta.MaxFrameLen) {
				flushJob()
			}
			cur.noBase = noBase
			e = min(e, s+delta.MaxFrameLen-cur.total)
			if n := len(cur.spans); n > 0 && cur.spans[n-1].off+cur.spans[n-1].len == s {
				cur.spans[n-1].len += e - s
			} else {
				cur.spans = append(cur.spans, span{s, e - s})
			}
			cur.total += e - s
			s = e
		}
	}
	cur.vol = vol
	var ms, me int64 = 0, -1
	for _, e := range ext {
		s := e.Off &^ (blockSize - 1)
		end := min((e.End()+blockSize-1)&^(blockSize-1), targetSize)
		if me >= 0 && s <= me {
			me = max(me, end)
			continue
		}
		if me >= 0 {
			add(ms, me)
		}
		ms, me = s, end
	}
	if me >= 0 {
		add(ms, me)
	}
	flushJob()
	return out
}

const (
	blockSame = iota
	blockZero
	blockData
)

// refineInto reads both sides of j's ranges into f's buffers and appends
// records for the runs of blocks that differ: zero runs, data runs, and
// within data runs copies of chunks the base holds elsewhere. Records
// carry offsets into tbuf/bbuf in Src until frames are built (see
// buildFrames); copies keep their base offset in a separate slice.
func (f *refiner) refineInto(ctx context.Context, j *job) error {
	f.tbuf = grow(f.tbuf, j.total)
	if !j.noBase {
		f.bbuf = grow(f.bbuf, j.total)
	}
	f.recs, f.pos, f.srcs = f.recs[:0], f.pos[:0], f.srcs[:0]
	at := int64(0)
	for _, s := range j.spans {
		t := f.tbuf[at : at+s.len]
		if err := f.target.read(ctx, t, s.off); err != nil {
			return err
		}
		if !j.noBase {
			if err := f.base.read(ctx, f.bbuf[at:at+s.len], s.off); err != nil {
				return err
			}
		}
		if err := f.refineSpan(ctx, j, s, at); err != nil {
			return err
		}
		at += s.len
	}
	return nil
}

// refineSpan classifies the blocks of one span, whose bytes start at buffer
// offset at.
func (f *refiner) refineSpan(ctx context.Context, j *job, s span, at int64) error {
	runStart, runClass := int64(0), blockSame
	emit := func(end int64) error {
		if runClass == blockSame || end == runStart {
			return nil
		}
		if runClass == blockZero {
			f.push(delta.Record{Kind: delta.KindZero, Off: s.off + runStart, Len: end - runStart}, at+runStart, 0)
			return nil
		}
		return f.dataRun(ctx, s.off+runStart, end-runStart, at+runStart)
	}
	for i := int64(0); i < s.len; i += blockSize {
		end := min(i+blockSize, s.len)
		class := blockSame
		t := f.tbuf[at+i : at+end]
		if j.noBase || string(t) != string(f.bbuf[at+i:at+end]) {
			class = blockData
			if zero.Is(t) {
				class = blockZero
			}
		}
		if class != runClass {
			if err := emit(i); err != nil {
				return err
			}
			runStart, runClass = i, class
		}
	}
	return emit(s.len)
}

// push appends a record whose target bytes sit at buffer offset pos;
// src is a copy's base offset. Adjacent records of one kind merge (copies
// only when their sources are adjacent too) up to delta.MaxRecordLen.
func (f *refiner) push(r delta.Record, pos, src int64) {
	if n := len(f.recs); n > 0 {
		p := &f.recs[n-1]
		if p.Kind == r.Kind && p.Off+p.Len == r.Off && p.Len+r.Len <= delta.MaxRecordLen &&
			f.pos[n-1]+p.Len == pos && (r.Kind != delta.KindCopy && r.Kind != delta.KindTargetCopy || f.srcs[n-1]+p.Len == src) {
			p.Len += r.Len
			return
		}
	}
	f.recs = append(f.recs, r)
	f.pos = append(f.pos, pos)
	f.srcs = append(f.srcs, src)
}

// minCopy is the least a copy record must cover to replace data: below
// it, the record head costs about what the data would.
const minCopy = 256

// dataRun emits a run of differing blocks at volume offset off, buffer
// offset pos: as copies where the target's chunks exist elsewhere in the
// base, as target copies where findTargetDups found them earlier in the
// target, as data elsewhere.
func (f *refiner) dataRun(ctx context.Context, off, n, pos int64) error {
	if f.index == nil && f.dups == nil {
		f.push(delta.Record{Kind: delta.KindData, Off: off, Len: n}, pos, 0)
		return nil
	}
	cur := off
	end := off + n
	err := f.target.entries(ctx, off, end, func(eoff, elen int64, id [32]byte) {
		kind := delta.KindCopy
		var src int64
		ok := false
		if f.index != nil {
			src, ok = f.index.find(id)
		}
		if !ok {
			if src, ok = f.dups[eoff]; !ok {
				return
			}
			kind = delta.KindTargetCopy
		}
		s, e := max(eoff, off), min(eoff+elen, end)
		if e-s < minCopy || s < cur {
			return
		}
		if s > cur {
			f.push(delta.Record{Kind: delta.KindData, Off: cur, Len: s - cur}, pos+cur-off, 0)
		}
		f.push(delta.Record{Kind: kind, Off: s, Len: e - s}, pos+s-off, src+(s-eoff))
		cur = e
	})
	if err != nil {
		return err
	}
	if cur < end {
		f.push(delta.Record{Kind: delta.KindData, Off: cur, Len: end - cur}, pos+cur-off, 0)
	}
	return nil
}

func grow(b []byte, n int64) []byte {
	if int64(cap(b)) < n {
		return make([]byte, n)
	}
	return b[:n]
}
