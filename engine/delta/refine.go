package delta

import (
	"context"

	"github.com/klauspost/compress/zstd"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/diff"
)

const blockSize = 4096

// job is a range of one volume to refine into records; it never crosses
// the base volume's end.
type job struct {
	vol    int
	off    int64
	len    int64
	noBase bool
}

// planJobs widens changed extents to whole 4 KiB blocks, merges those that
// then overlap, and cuts the result into jobs of at most MaxRecordLen that
// do not straddle the base's end.
func planJobs(vol int, ext []diff.Extent, baseSize, targetSize int64) []job {
	var out []job
	var cur diff.Extent
	flush := func() {
		for off := cur.Off; off < cur.End(); {
			end := min(off+MaxRecordLen, cur.End())
			if off < baseSize && end > baseSize {
				end = baseSize
			}
			out = append(out, job{vol: vol, off: off, len: end - off, noBase: off >= baseSize})
			off = end
		}
	}
	for _, e := range ext {
		s := e.Off &^ (blockSize - 1)
		end := min((e.End()+blockSize-1)&^(blockSize-1), targetSize)
		if cur.Len > 0 && s <= cur.End() {
			cur.Len = max(cur.End(), end) - cur.Off
			continue
		}
		if cur.Len > 0 {
			flush()
		}
		cur = diff.Extent{Off: s, Len: end - s}
	}
	if cur.Len > 0 {
		flush()
	}
	return out
}

// refiner turns jobs into records, block by block. One per worker.
type refiner struct {
	base, target *volReader
	enc          *zstd.Encoder
	tbuf, bbuf   []byte
}

const (
	blockSame = iota
	blockZero
	blockData
)

// refine reads both sides of j and returns records for the runs of blocks
// that differ, zero runs apart from data runs.
func (f *refiner) refine(ctx context.Context, j job) ([]Record, error) {
	f.tbuf = grow(f.tbuf, j.len)
	if err := f.target.read(ctx, f.tbuf, j.off); err != nil {
		return nil, err
	}
	if !j.noBase {
		f.bbuf = grow(f.bbuf, j.len)
		if err := f.base.read(ctx, f.bbuf, j.off); err != nil {
			return nil, err
		}
	}
	var recs []Record
	runStart, runClass := 0, blockSame
	emit := func(end int) {
		if runClass == blockSame || end == runStart {
			return
		}
		t := f.tbuf[runStart:end]
		r := Record{Volume: j.vol, Off: j.off + int64(runStart), Len: int64(end - runStart),
			NoBase: j.noBase, TargetHash: cas.Sum(t), Kind: KindZero}
		if !j.noBase {
			r.BaseHash = cas.Sum(f.bbuf[runStart:end])
		}
		if runClass == blockData {
			r.Kind = KindData
			r.Stored = f.enc.EncodeAll(t, make([]byte, 0, len(t)/2+64))
		}
		recs = append(recs, r)
	}
	for i := 0; i < int(j.len); i += blockSize {
		end := min(i+blockSize, int(j.len))
		class := blockSame
		t := f.tbuf[i:end]
		if j.noBase || string(t) != string(f.bbuf[i:end]) {
			class = blockData
			if allZero(t) {
				class = blockZero
			}
		}
		if class != runClass {
			emit(i)
			runStart, runClass = i, class
		}
	}
	emit(int(j.len))
	return recs, nil
}

func grow(b []byte, n int64) []byte {
	if int64(cap(b)) < n {
		return make([]byte, n)
	}
	return b[:n]
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
