package delta

import (
	"github.com/klauspost/compress/zstd"
)

// Assembler builds frames' target bytes: data from the delta, zeros, and
// copy sources from wherever the caller reads them. One per worker; its
// buffers carry over from frame to frame.
type Assembler struct {
	dec *zstd.Decoder
	h   *FrameHasher
	buf []byte // the frame's target bytes after assemble
	out []byte // decoded data
}

// NewAssembler returns an assembler for rd's frames.
func (rd *Reader) NewAssembler() (*Assembler, error) { return newAssembler(rd.version) }

func newAssembler(v byte) (*Assembler, error) {
	dec, err := newDecoder()
	if err != nil {
		return nil, err
	}
	return &Assembler{dec: dec, h: NewFrameHasher(v)}, nil
}

// Close releases the assembler's decoder.
func (a *Assembler) Close() { a.dec.Close() }

// Bytes is the frame's target bytes after Assemble, until the next call.
func (a *Assembler) Bytes() []byte { return a.buf }

// Assemble fills a.buf with f's target bytes, reading the i-th copy record
// of the frame through readCopy (i counts copies from the base; a target
// copy comes with i = -1, its bytes read from the target at r.Src), and
// reports whether they hash to the frame's target hash.
func (a *Assembler) Assemble(f *Frame, readCopy func(i int, r *Record, b []byte) error) (bool, error) {
	var err error
	if a.out, err = f.decodeData(a.dec, a.out); err != nil {
		return false, err
	}
	a.buf = grow(a.buf, f.Span)
	at, ci := int64(0), 0
	for i := range f.Recs {
		r := &f.Recs[i]
		b := a.buf[at : at+r.Len]
		switch r.Kind {
		case KindData:
			copy(b, r.Data)
		case KindZero:
			clear(b)
		case KindCopy:
			if err := readCopy(ci, r, b); err != nil {
				return false, err
			}
			ci++
		case KindTargetCopy:
			if err := readCopy(-1, r, b); err != nil {
				return false, err
			}
		}
		at += r.Len
	}
	a.h.Reset()
	a.h.Write(a.buf)
	return a.h.Sum() == f.TargetHash, nil
}

// HasCopies reports whether f has copy records, whose bytes come from the
// replica rather than the delta.
func (f *Frame) HasCopies() bool {
	for i := range f.Recs {
		if k := f.Recs[i].Kind; k == KindCopy || k == KindTargetCopy {
			return true
		}
	}
	return false
}
