package build

import (
	"context"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/vmrep/vmrep/engine/delta"
)

// refiner turns jobs into encoded frames. One per worker; its buffers
// carry over from job to job.
type refiner struct {
	base, target *volReader
	index        *copyIndex
	dups         map[int64]int64 // findTargetDups
	enc          *zstd.Encoder
	hb, ht       *delta.FrameHasher
	tbuf, bbuf   []byte
	dbuf, zbuf   []byte
	recs         []delta.Record
	pos, srcs    []int64 // per record: buffer offset of its bytes; copy source
}

// jobResult is what one job becomes: encoded frames, in order.
type jobResult struct {
	frames [][]byte
	recs   []int // records per frame
	sum    delta.Summary
}

// encodeJob refines j and encodes its records as frames.
func (f *refiner) encodeJob(ctx context.Context, j *job) (jobResult, error) {
	var res jobResult
	if err := f.refineInto(ctx, j); err != nil {
		return res, err
	}
	for first := 0; first < len(f.recs); first += delta.MaxFrameRecords {
		last := min(first+delta.MaxFrameRecords, len(f.recs))
		b := f.frame(j, first, last, &res.sum)
		res.frames = append(res.frames, b)
		res.recs = append(res.recs, last-first)
	}
	return res, nil
}

// frame hashes, packs and encodes records [first, last).
func (f *refiner) frame(j *job, first, last int, sum *delta.Summary) []byte {
	fr := delta.Frame{Volume: j.vol, NoBase: j.noBase, Recs: f.recs[first:last]}
	f.ht.Reset()
	f.hb.Reset()
	f.dbuf = f.dbuf[:0]
	for i := first; i < last; i++ {
		r := &f.recs[i]
		r.Volume = j.vol
		p := f.pos[i]
		t := f.tbuf[p : p+r.Len]
		f.ht.Write(t)
		if !j.noBase {
			f.hb.Write(f.bbuf[p : p+r.Len])
		}
		sum.Records++
		switch r.Kind {
		case delta.KindData:
			f.dbuf = append(f.dbuf, t...)
			sum.DataBytes += r.Len
		case delta.KindZero:
			sum.ZeroBytes += r.Len
		case delta.KindCopy:
			r.Src = f.srcs[i]
			sum.CopyBytes += r.Len
		case delta.KindTargetCopy:
			r.Src = f.srcs[i]
			sum.TargetCopyBytes += r.Len
		}
	}
	fr.TargetHash = f.ht.Sum()
	if !j.noBase {
		fr.BaseHash = f.hb.Sum()
	}
	fr.DataLen = int64(len(f.dbuf))
	if fr.DataLen > 0 {
		fr.Mode, fr.Stored = f.compress(f.dbuf)
		sum.StoredBytes += int64(len(fr.Stored))
	}
	out := getFrameBuf(64 + len(fr.Stored) + 24*len(fr.Recs))
	return delta.AppendFrame(out, &fr)
}

// frameBufs recycles encoded frames once the writer has written them, so
// a long export does not allocate (and clear) a new 4 MiB buffer per job.
var frameBufs sync.Pool

func getFrameBuf(n int) []byte {
	if p, ok := frameBufs.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, max(n, 1<<20))
}

func putFrameBuf(b []byte) {
	frameBufs.Put(&b)
}

// compress returns d zstd-compressed when that saves at least 1/32, else
// raw. A 4 KiB sample is tried first, so incompressible data (already
// compressed or encrypted guest files) costs little time.
func (f *refiner) compress(d []byte) (byte, []byte) {
	const sample = 4096
	if len(d) > 4*sample {
		f.zbuf = f.enc.EncodeAll(d[:sample], f.zbuf[:0])
		if len(f.zbuf) > sample-sample/32 {
			return delta.StoredRaw, d
		}
	}
	f.zbuf = f.enc.EncodeAll(d, f.zbuf[:0])
	if len(f.zbuf) > len(d)-len(d)/32 {
		return delta.StoredRaw, d
	}
	return delta.StoredZstd, f.zbuf
}
