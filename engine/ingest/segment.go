package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/internal/zero"
)

const (
	// blockSize is the unit in which zero runs are found.
	blockSize = 4096
	// HoleMin is the shortest run of zero blocks that becomes a hole. Shorter
	// runs stay inside the chunks around them, where they compress well.
	HoleMin = 64 << 10
	// readSize is the largest single read from the source.
	readSize = 1 << 20
)

// buffer is one large slab that chunks point into. It goes back to the pool
// when the segmenter has moved on and every chunk in it has been stored.
type buffer struct {
	data []byte
	refs atomic.Int32
	pool chan *buffer
}

func (b *buffer) retain() { b.refs.Add(1) }

func (b *buffer) release() {
	if b.refs.Add(-1) == 0 {
		b.pool <- b
	}
}

// segmenter is the producer of the pipeline: it reads the source, finds
// holes and cuts segments into chunks, and emits extents in volume order.
//
// Invariant: chunks already handed out lie below segStart in buf, so the
// segmenter only ever writes at or above segStart.
type segmenter struct {
	src   source.Reader
	size  int64
	cut   *chunker.Cutter
	max   int
	emit  func(x extent) error // blocks while the pipeline is full
	bufs  chan *buffer
	stats *Stats
	plan  *plan // nil: read everything the source reports allocated
	// splice, when set, takes the unchanged bytes of an exact hint from
	// the base's chunks instead of the source.
	splice *splicer

	buf      *buffer
	segStart int   // first unchunked byte of the current segment in buf
	w        int   // end of bytes held in buf
	segOff   int64 // volume offset of buf.data[segStart]
	pos      int64 // volume offset of the next byte to classify
	zr       int64 // length of the zero run that ends at pos
	inHole   bool  // zr reached HoleMin: its bytes are no longer held in buf
}

// run walks the whole volume.
func (s *segmenter) run(ctx context.Context) error {
	if err := s.takeBuffer(ctx); err != nil {
		return err
	}
	err := s.src.Allocated(ctx, func(r source.Range) error {
		start := r.Off &^ (blockSize - 1)
		end := min(alignUp(r.Off+r.Len), s.size)
		if end <= s.pos {
			return nil
		}
		start = max(start, s.pos)
		if start > s.pos {
			if err := s.advance(ctx, start, false); err != nil {
				return err
			}
		}
		return s.advance(ctx, end, true)
	})
	if err != nil {
		return err
	}
	if s.pos < s.size {
		if err := s.advance(ctx, s.size, false); err != nil {
			return err
		}
	}
	if s.inHole {
		err = s.emitHole(s.pos-s.zr, s.zr)
	} else {
		err = s.finishSegment(ctx, s.w)
	}
	if s.buf != nil {
		s.buf.release()
		s.buf = nil
	}
	return err
}

func alignUp(v int64) int64 { return (v + blockSize - 1) &^ (blockSize - 1) }

// read reads and classifies the source up to volume offset end.
func (s *segmenter) read(ctx context.Context, end int64) error {
	for s.pos < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(min(int64(readSize), end-s.pos))
		if s.plan != nil {
			// A hinted read goes back to the base's entries as soon as it
			// can (syncPoints), so it reads in small steps.
			if synced, err := s.syncAtRunStart(ctx); synced || err != nil {
				return err
			}
			n = min(n, syncReadSize)
			if s.pos%blockSize != 0 {
				// After entries copied up to an unaligned boundary: back on
				// the block grid of a full read.
				n = min(n, int(alignUp(s.pos)-s.pos))
			}
		}
		if err := s.ensureSpace(ctx, n); err != nil {
			return err
		}
		t0 := time.Now()
		got, err := s.readSource(s.buf.data[s.w:s.w+n], s.pos)
		s.stats.ReadTime += time.Since(t0)
		if got < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read at offset %d: %w", s.pos+int64(got), err)
		}
		if err := s.classify(ctx, n); err != nil {
			return err
		}
		if s.plan != nil {
			if synced, err := s.syncAfterCut(ctx); synced || err != nil {
				return err
			}
		}
	}
	return nil
}

// classify walks the n bytes just read at buf.data[w:], block by block,
// dropping the bytes of holes and keeping the rest.
func (s *segmenter) classify(ctx context.Context, n int) error {
	t0 := time.Now()
	defer func() { s.stats.SegmentTime += time.Since(t0) }()
	in, out := s.w, s.w
	for in < s.w+n {
		bl := min(blockSize, s.w+n-in)
		block := s.buf.data[in : in+bl]
		if zero.Is(block) {
			s.zr += int64(bl)
			s.pos += int64(bl)
			in += bl
			if s.inHole {
				continue
			}
			if s.zr < HoleMin {
				out = s.keep(out, in-bl, bl)
				continue
			}
			// The run just became a hole: end the segment before it.
			dataEnd := out - int(s.zr-int64(bl))
			if err := s.finishSegment(ctx, dataEnd); err != nil {
				return err
			}
			s.inHole = true
			out = s.segStart
			continue
		}
		if s.inHole {
			if err := s.emitHole(s.pos-s.zr, s.zr); err != nil {
				return err
			}
			s.inHole = false
			s.segStart, s.segOff = out, s.pos
		}
		s.zr = 0
		s.pos += int64(bl)
		out = s.keep(out, in, bl)
		in += bl
	}
	s.w = out
	return s.cutFull(ctx)
}

// keep moves a block that stays in the segment down to out, when blocks were
// dropped before it, and returns the new end.
func (s *segmenter) keep(out, in, n int) int {
	if out != in {
		copy(s.buf.data[out:], s.buf.data[in:in+n])
	}
	return out + n
}

// zeros accounts for n bytes that the source reports unallocated.
func (s *segmenter) zeros(ctx context.Context, n int64) error {
	s.pos += n
	if s.inHole {
		s.zr += n
		return nil
	}
	if s.zr+n >= HoleMin {
		if err := s.finishSegment(ctx, s.w-int(s.zr)); err != nil {
			return err
		}
		s.zr += n
		s.inHole = true
		s.w = s.segStart
		return nil
	}
	// A short gap between data: its zeros belong to the segment.
	if err := s.ensureSpace(ctx, int(n)); err != nil {
		return err
	}
	clear(s.buf.data[s.w : s.w+int(n)])
	s.w += int(n)
	s.zr += n
	return nil
}

// cutFull hands out every chunk whose boundary the bytes held so far decide.
// Trailing zeros are held back: they may yet become a hole.
func (s *segmenter) cutFull(ctx context.Context) error {
	confirmed := s.w - int(s.zr)
	for confirmed-s.segStart >= s.max {
		n := s.cut.Cut(s.buf.data[s.segStart:confirmed], false)
		if err := s.emitChunk(n); err != nil {
			return err
		}
	}
	return nil
}

// finishSegment cuts the current segment up to buffer position end.
func (s *segmenter) finishSegment(ctx context.Context, end int) error {
	for s.segStart < end {
		n := s.cut.Cut(s.buf.data[s.segStart:end], true)
		if err := s.emitChunk(n); err != nil {
			return err
		}
	}
	return nil
}

func (s *segmenter) emitChunk(n int) error {
	x := extent{off: s.segOff, length: int64(n), data: s.buf.data[s.segStart : s.segStart+n], buf: s.buf}
	s.buf.retain()
	s.segStart += n
	s.segOff += int64(n)
	return s.emit(x)
}

func (s *segmenter) emitHole(off, n int64) error {
	s.zr = 0
	return s.emit(extent{off: off, length: n, hole: true})
}

// ensureSpace makes room for n more bytes at w, moving the live tail of the
// current buffer into a fresh one when needed.
func (s *segmenter) ensureSpace(ctx context.Context, n int) error {
	if s.w+n <= len(s.buf.data) {
		return nil
	}
	old := s.buf
	if err := s.takeBuffer(ctx); err != nil {
		return err
	}
	live := copy(s.buf.data, old.data[s.segStart:s.w])
	s.segStart, s.w = 0, live
	old.release()
	return nil
}

func (s *segmenter) takeBuffer(ctx context.Context) error {
	select {
	case b := <-s.bufs:
		b.refs.Store(1)
		s.buf = b
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
