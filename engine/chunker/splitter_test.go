package chunker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/iotest"
)

// randomSliceReader returns reads of random length between 0 and 3*max
// bytes, including empty ones, to shake out any dependence on read sizes.
type randomSliceReader struct {
	data []byte
	r    *rand.Rand
	max  int
}

func (r *randomSliceReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), r.r.IntN(r.max+1))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func splitAll(t *testing.T, r io.Reader, c *Cutter) []int {
	t.Helper()
	s := NewSplitter(r, c)
	var lengths []int
	for {
		chunk, err := s.Next()
		if err == io.EOF {
			return lengths
		}
		if err != nil {
			t.Fatalf("Next after %d chunks: %v", len(lengths), err)
		}
		lengths = append(lengths, len(chunk))
	}
}

// TestSplitterStability checks the splitter gives the boundaries of Cut over
// the whole buffer however the input arrives.
func TestSplitterStability(t *testing.T) {
	data := mixedInput(3 << 20)
	for _, p := range testParams[:4] {
		c := mustCutter(t, p)
		want := cutAll(data, func(d []byte) int { return c.Cut(d, true) })
		readers := map[string]func() io.Reader{
			"whole":       func() io.Reader { return bytes.NewReader(data) },
			"onebyte":     func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
			"halfmax":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
			"dataerreof":  func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
			"randomslice": func() io.Reader { return &randomSliceReader{data, rand.New(rand.NewPCG(1, 2)), 3 * p.Max} },
			"smallslices": func() io.Reader { return &randomSliceReader{data, rand.New(rand.NewPCG(3, 4)), 100} },
		}
		for name, mk := range readers {
			t.Run(fmt.Sprintf("%v/%s", p, name), func(t *testing.T) {
				if name == "onebyte" && p.Max < 64<<10 {
					t.Skip("one-byte reads covered by the default params")
				}
				got := splitAll(t, mk(), c)
				if !slices.Equal(got, want) {
					t.Fatalf("splitter gave %d chunks, Cut %d; first difference at chunk %d", len(got), len(want), firstDiff(got, want))
				}
			})
		}
	}
}

func TestSplitterChunkContents(t *testing.T) {
	data := randomInput(10, 1<<20+17)
	s := NewSplitter(bytes.NewReader(data), mustCutter(t, DefaultParams()))
	var joined []byte
	for {
		chunk, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		joined = append(joined, chunk...)
	}
	if !bytes.Equal(joined, data) {
		t.Fatal("chunks do not concatenate to the input")
	}
}

func TestSplitterEdges(t *testing.T) {
	c := mustCutter(t, DefaultParams())
	tests := []struct {
		name string
		size int
		want []int
	}{
		{"empty", 0, nil},
		{"one byte", 1, []int{1}},
		{"min", c.params.Min, []int{c.params.Min}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitAll(t, bytes.NewReader(make([]byte, tt.size)), c)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got chunks %v, want %v", got, tt.want)
			}
		})
	}
	// All zeros cannot cut, so every chunk is exactly max.
	got := splitAll(t, bytes.NewReader(make([]byte, 3*c.params.Max+5)), c)
	if want := []int{c.params.Max, c.params.Max, c.params.Max, 5}; !slices.Equal(got, want) {
		t.Fatalf("all-zero input gave chunks %v, want %v", got, want)
	}
}

func TestSplitterReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	p := DefaultParams()
	r := io.MultiReader(bytes.NewReader(randomInput(11, 3*p.Max)), iotest.ErrReader(boom))
	s := NewSplitter(r, mustCutter(t, p))
	var err error
	for range 100 {
		if _, err = s.Next(); err != nil {
			break
		}
	}
	if !errors.Is(err, boom) {
		t.Fatalf("Next error = %v, want it to wrap %v", err, boom)
	}
	if _, err2 := s.Next(); !errors.Is(err2, boom) {
		t.Fatalf("Next after an error = %v, want the same error again", err2)
	}
}

func TestSplitterNoProgress(t *testing.T) {
	s := NewSplitter(emptyReader{}, mustCutter(t, DefaultParams()))
	if _, err := s.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("Next on a reader that never returns data = %v, want io.ErrNoProgress", err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestSplitterAllocs(t *testing.T) {
	p := DefaultParams()
	data := mixedInput(64 << 20)
	r := bytes.NewReader(data)
	s := NewSplitter(r, mustCutter(t, p))
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Next allocates %v times per chunk, want 0", allocs)
	}
}
