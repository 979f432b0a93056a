package chunker

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Cutter finds chunk boundaries for one set of [Params]. It holds only the
// precomputed masks, so it is immutable and safe for concurrent use.
type Cutter struct {
	params Params
	maskS  uint64 // harder mask, used while the chunk is shorter than Avg
	maskL  uint64 // easier mask, used from Avg on
}

// normalization is FastCDC's normalization level: maskS has this many bits
// more than log2(Avg), maskL this many fewer.
const normalization = 2

// NewCutter validates p and precomputes its masks.
func NewCutter(p Params) (*Cutter, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	avgBits := bits.TrailingZeros(uint(p.Avg))
	return &Cutter{
		params: p,
		maskS:  spreadMask(avgBits + normalization),
		maskL:  spreadMask(avgBits - normalization),
	}, nil
}

// Params returns the parameters c was built with.
func (c *Cutter) Params() Params { return c.params }

// Cut returns the length of the first chunk of data.
//
// Unless final is true, data must hold at least Max bytes, so that the cut
// cannot depend on how the caller's reads happened to fall; Cut panics
// otherwise, since a short buffer is a bug in the caller, not a data error.
// With final set, data is the rest of the segment: Cut returns len(data) when
// it is at most Min, and otherwise a boundary as usual, never more than Max.
// Cut(data, true) equals Cut(data, false) whenever len(data) >= Max.
func (c *Cutter) Cut(data []byte, final bool) int {
	p := c.params
	n := len(data)
	if n < p.Max {
		if !final {
			panic(fmt.Sprintf("chunker: Cut given %d bytes, fewer than max %d, with final unset", n, p.Max))
		}
		if n <= p.Min {
			return n
		}
	} else {
		n = p.Max
	}
	data = data[:n]
	normEnd := min(p.Avg, n)
	fp, cut := scan(data[:normEnd], p.Min, 0, c.maskS)
	if cut > 0 {
		return cut
	}
	if _, cut = scan(data, normEnd, fp, c.maskL); cut > 0 {
		return cut
	}
	return n
}

// block is how many bytes scan rolls between two checks for a run of one
// byte value; it must be even for the two-byte step.
const block = 64

// scan rolls the Gear hash over data[i:] from state fp and returns the new
// state and the cut length (index+1 of the first byte after which
// fp&mask == 0), or 0 when there is none.
//
// It gives exactly the boundaries of the plain one-byte loop
// (fp = fp<<1 + gear[b]) with two speed-ups that keep that equivalence:
//
//   - Two bytes per step: fp<<2 + gear[a]<<1 is the one-byte state after a,
//     shifted left once; as mask never uses bit 63, testing it against
//     mask<<1 tests that state. Adding gear[b] then gives the state after b.
//   - Runs of one byte value v: fp = -gear[v] is the fixed point of feeding
//     v (2*(-g) + g = -g), so once the state sits there, and the mask does
//     not match it, the rest of the run cannot cut and is skipped with
//     8-byte compares. Zero-filled and padded regions of disks are common.
func scan(data []byte, i int, fp, mask uint64) (uint64, int) {
	maskHi := mask << 1
	for i+block <= len(data) {
		if v := data[i-1]; fp == -gear[v] && fp&mask != 0 && data[i] == v {
			i = runEnd(data, i, v)
			continue
		}
		b := (*[block]byte)(data[i : i+block])
		for k := 0; k < block; k += 4 {
			fp = fp<<2 + gearShifted[b[k]]
			if fp&maskHi == 0 {
				return fp >> 1, i + k + 1
			}
			fp += gear[b[k+1]]
			if fp&mask == 0 {
				return fp, i + k + 2
			}
			fp = fp<<2 + gearShifted[b[k+2]]
			if fp&maskHi == 0 {
				return fp >> 1, i + k + 3
			}
			fp += gear[b[k+3]]
			if fp&mask == 0 {
				return fp, i + k + 4
			}
		}
		i += block
	}
	for ; i < len(data); i++ {
		fp = fp<<1 + gear[data[i]]
		if fp&mask == 0 {
			return fp, i + 1
		}
	}
	return fp, 0
}

// runEnd returns the index of the first byte at or after i that differs
// from v, or len(data).
func runEnd(data []byte, i int, v byte) int {
	rep := uint64(v) * 0x0101010101010101
	for i+8 <= len(data) && binary.LittleEndian.Uint64(data[i:]) == rep {
		i += 8
	}
	for i < len(data) && data[i] == v {
		i++
	}
	return i
}

// Peek returns the length of the first chunk of data when data already
// decides it: a boundary found inside data (or Max reached) is the one Cut
// returns given any longer data with the same prefix, since a boundary
// depends only on the bytes before it. ok is false when more bytes are
// needed.
func (c *Cutter) Peek(data []byte) (n int, ok bool) {
	p := c.params
	if len(data) >= p.Max {
		return c.Cut(data, false), true
	}
	if len(data) <= p.Min {
		return 0, false
	}
	normEnd := min(p.Avg, len(data))
	fp, cut := scan(data[:normEnd], p.Min, 0, c.maskS)
	if cut > 0 {
		return cut, true
	}
	if len(data) <= p.Avg {
		return 0, false
	}
	if _, cut = scan(data, normEnd, fp, c.maskL); cut > 0 {
		return cut, true
	}
	return 0, false
}
