package chunker

import (
	"bytes"
	"io"
	"testing"
)

// fuzzParams maps three fuzzer bytes onto valid Params with small sizes, so
// short inputs still cross Min, Avg and Max.
func fuzzParams(a, b, c uint8) Params {
	min := 64 + int(a)*4
	avg := 128
	for avg <= min {
		avg *= 2
	}
	avg <<= b % 3
	return Params{Min: min, Avg: avg, Max: avg + 1 + int(c)*8}
}

func FuzzCut(f *testing.F) {
	f.Add([]byte("hello"), uint8(0), uint8(0), uint8(0))
	f.Add(randomInput(1, 5000), uint8(3), uint8(1), uint8(40))
	f.Add(textInput(2, 9000), uint8(200), uint8(2), uint8(255))
	f.Add(zeroHeavyInput(3, 20000), uint8(10), uint8(0), uint8(7))
	f.Add(make([]byte, 3000), uint8(1), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, a, b, c uint8) {
		p := fuzzParams(a, b, c)
		cut := mustCutter(t, p)
		var lengths []int
		for rest := data; len(rest) > 0; {
			n := cut.Cut(rest, true)
			if ref := refCut(cut, rest); n != ref {
				t.Fatalf("%v: Cut = %d, one-byte reference %d", p, n, ref)
			}
			if len(rest) >= p.Max {
				if m := cut.Cut(rest, false); m != n {
					t.Fatalf("%v: Cut final=false gave %d, final=true %d", p, m, n)
				}
			}
			lengths = append(lengths, n)
			rest = rest[n:]
		}
		checkLengths(t, p, lengths, len(data))

		s := NewSplitter(bytes.NewReader(data), cut)
		for i := 0; ; i++ {
			chunk, err := s.Next()
			if err == io.EOF {
				if i != len(lengths) {
					t.Fatalf("splitter gave %d chunks, Cut %d", i, len(lengths))
				}
				break
			}
			if err != nil || i >= len(lengths) || len(chunk) != lengths[i] {
				t.Fatalf("splitter chunk %d: %d bytes, err %v; Cut gave %v", i, len(chunk), err, lengths)
			}
		}
	})
}
