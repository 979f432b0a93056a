package chunker

import (
	"bytes"
	"io"
	"slices"
	"sync"
	"testing"
)

var benchData = sync.OnceValue(func() []byte { return mixedInput(64 << 20) })

func benchCut(b *testing.B, data []byte, cut func([]byte) int) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	chunks := 0
	for b.Loop() {
		chunks = len(cutAll2(data, cut))
	}
	b.ReportMetric(float64(len(data))/float64(chunks), "B/chunk")
}

// cutAll2 counts chunks without collecting them, so the benchmark measures
// only the cutting.
func cutAll2(data []byte, cut func([]byte) int) []struct{} {
	var n int
	for len(data) > 0 {
		data = data[cut(data):]
		n++
	}
	return make([]struct{}, n)
}

// BenchmarkCut chunks 64 MiB of mixed data (half random, a quarter text, a
// quarter zeros) on one core.
func BenchmarkCut(b *testing.B) {
	c := mustCutter(b, DefaultParams())
	data := benchData()
	b.Run("mixed", func(b *testing.B) { benchCut(b, data, func(d []byte) int { return c.Cut(d, true) }) })
	b.Run("random", func(b *testing.B) {
		r := randomInput(1, 64<<20)
		benchCut(b, r, func(d []byte) int { return c.Cut(d, true) })
	})
}

// BenchmarkCutOneByte is the plain loop the two-byte scanner must beat to
// earn its keep.
func BenchmarkCutOneByte(b *testing.B) {
	c := mustCutter(b, DefaultParams())
	data := benchData()
	b.Run("mixed", func(b *testing.B) { benchCut(b, data, func(d []byte) int { return refCut(c, d) }) })
	b.Run("random", func(b *testing.B) {
		r := randomInput(1, 64<<20)
		benchCut(b, r, func(d []byte) int { return refCut(c, d) })
	})
}

func BenchmarkSplitter(b *testing.B) {
	c := mustCutter(b, DefaultParams())
	data := benchData()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s := NewSplitter(bytes.NewReader(data), c)
		for {
			if _, err := s.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// scanOneByte is scan without the two-byte step: the fair baseline for
// deciding whether the step pays.
func scanOneByte(data []byte, i int, fp, mask uint64) (uint64, int) {
	for i+block <= len(data) {
		if v := data[i-1]; fp == -gear[v] && fp&mask != 0 && data[i] == v {
			i = runEnd(data, i, v)
			continue
		}
		b := (*[block]byte)(data[i : i+block])
		for k := 0; k < block; k++ {
			fp = fp<<1 + gear[b[k]]
			if fp&mask == 0 {
				return fp, i + k + 1
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

func cutOneByteStep(c *Cutter, data []byte) int {
	p := c.params
	n := min(len(data), p.Max)
	if n <= p.Min {
		return n
	}
	data = data[:n]
	normEnd := min(p.Avg, n)
	fp, cut := scanOneByte(data[:normEnd], p.Min, 0, c.maskS)
	if cut > 0 {
		return cut
	}
	if _, cut = scanOneByte(data, normEnd, fp, c.maskL); cut > 0 {
		return cut
	}
	return n
}

func BenchmarkCutOneByteStep(b *testing.B) {
	c := mustCutter(b, DefaultParams())
	b.Run("mixed", func(b *testing.B) { benchCut(b, benchData(), func(d []byte) int { return cutOneByteStep(c, d) }) })
	b.Run("random", func(b *testing.B) {
		benchCut(b, randomInput(1, 64<<20), func(d []byte) int { return cutOneByteStep(c, d) })
	})
}

func TestOneByteStepMatches(t *testing.T) {
	c := mustCutter(t, DefaultParams())
	data := benchData()[:16<<20]
	got := cutAll(data, func(d []byte) int { return cutOneByteStep(c, d) })
	want := cutAll(data, func(d []byte) int { return c.Cut(d, true) })
	if !slices.Equal(got, want) {
		t.Fatalf("one-byte step differs from Cut at chunk %d", firstDiff(got, want))
	}
}
