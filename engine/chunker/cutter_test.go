package chunker

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// gearDigest pins the gear table: SHA-256 of its 256 values, little-endian.
const gearDigest = "c089ca64a2cc896f86d02d5f2409772535cec252797d6608986f0d919321ff68"

func TestGearTableDigest(t *testing.T) {
	var raw [256 * 8]byte
	for i, g := range gear {
		binary.LittleEndian.PutUint64(raw[i*8:], g)
		if gearShifted[i] != g<<1 {
			t.Fatalf("gearShifted[%d] = %#x, want %#x", i, gearShifted[i], g<<1)
		}
	}
	sum := sha256.Sum256(raw[:])
	if got := hex.EncodeToString(sum[:]); got != gearDigest {
		t.Fatalf("gear table digest %s, want %s: the table changed, and with it every boundary of every store", got, gearDigest)
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		p    Params
		want string // substring of the error; empty for valid
	}{
		{DefaultParams(), ""},
		{Params{64, 128, 256}, ""},
		{Params{1 << 20, 2 << 20, 4 << 20}, ""},
		{Params{63, 128, 256}, "min must be at least 64"},
		{Params{128, 128, 256}, "avg must be greater than min"},
		{Params{64, 256, 256}, "max must be greater than avg"},
		{Params{64, 96, 256}, "avg must be a power of two"},
		{Params{64, 1 << 20, 4<<20 + 1}, "max must be at most"},
		{Params{}, "min must be at least 64"},
	}
	for _, tt := range tests {
		t.Run(tt.p.String(), func(t *testing.T) {
			err := tt.p.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if _, err := NewCutter(tt.p); err != nil {
					t.Fatalf("NewCutter() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("Validate() = %v, want ErrInvalidParams saying %q", err, tt.want)
			}
			if _, err := NewCutter(tt.p); !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("NewCutter() = %v, want ErrInvalidParams", err)
			}
		})
	}
}

func TestMasks(t *testing.T) {
	c := mustCutter(t, DefaultParams())
	if got := bits.OnesCount64(c.maskS); got != 18 {
		t.Errorf("maskS has %d bits, want 18", got)
	}
	if got := bits.OnesCount64(c.maskL); got != 14 {
		t.Errorf("maskL has %d bits, want 14", got)
	}
	for _, p := range testParams {
		c := mustCutter(t, p)
		if (c.maskS|c.maskL)>>63 != 0 {
			t.Errorf("%v: a mask uses bit 63, which the two-byte step cannot test", p)
		}
	}
}

// TestCutMatchesReference proves the two-byte, run-skipping scanner gives
// the boundaries of the plain one-byte loop on every kind of input.
func TestCutMatchesReference(t *testing.T) {
	inputs := map[string][]byte{
		"random":   randomInput(1, 4<<20),
		"text":     textInput(2, 2<<20),
		"zeros":    zeroHeavyInput(3, 4<<20),
		"allzero":  make([]byte, 1<<20),
		"periodic": periodicInput(4, 7, 1<<20),
		"ones":     slices.Repeat([]byte{0xff}, 1<<20),
	}
	for _, p := range testParams {
		c := mustCutter(t, p)
		for name, data := range inputs {
			t.Run(fmt.Sprintf("%v/%s", p, name), func(t *testing.T) {
				got := cutAll(data, func(d []byte) int { return c.Cut(d, true) })
				want := cutAll(data, func(d []byte) int { return refCut(c, d) })
				if !slices.Equal(got, want) {
					t.Fatalf("Cut gave %d chunks, reference %d; first difference at chunk %d",
						len(got), len(want), firstDiff(got, want))
				}
			})
		}
	}
}

func firstDiff(a, b []int) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestMinMaxHonoured(t *testing.T) {
	inputs := map[string][]byte{
		"random":   randomInput(5, 8<<20),
		"allzero":  make([]byte, 8<<20),
		"periodic": periodicInput(6, 4096, 8<<20),
		"text":     textInput(7, 4<<20),
	}
	for _, p := range testParams {
		c := mustCutter(t, p)
		for name, data := range inputs {
			t.Run(fmt.Sprintf("%v/%s", p, name), func(t *testing.T) {
				lengths := cutAll(data, func(d []byte) int { return c.Cut(d, len(d) < p.Max) })
				checkLengths(t, p, lengths, len(data))
			})
		}
	}
}

func checkLengths(t *testing.T, p Params, lengths []int, total int) {
	t.Helper()
	sum := 0
	for i, n := range lengths {
		sum += n
		if n > p.Max || n <= 0 {
			t.Fatalf("chunk %d is %d bytes, outside (0, %d]", i, n, p.Max)
		}
		if n < p.Min && i != len(lengths)-1 {
			t.Fatalf("chunk %d of %d is %d bytes, under min %d", i, len(lengths), n, p.Min)
		}
	}
	if sum != total {
		t.Fatalf("chunks sum to %d bytes, input is %d", sum, total)
	}
}

func TestCutFinalAgreesWhenLong(t *testing.T) {
	p := DefaultParams()
	c := mustCutter(t, p)
	data := mixedInput(4 << 20)
	for off := 0; off+p.Max <= len(data); off += 12345 {
		rest := data[off:]
		a, b, m := c.Cut(rest, false), c.Cut(rest, true), c.Cut(rest[:p.Max], false)
		if a != b || a != m {
			t.Fatalf("at %d: Cut(rest,false)=%d Cut(rest,true)=%d Cut(rest[:max],false)=%d", off, a, b, m)
		}
	}
	for _, n := range []int{0, 1, p.Min - 1, p.Min} {
		if got := c.Cut(data[:n], true); got != n {
			t.Errorf("Cut(%d bytes, final) = %d, want all of it", n, got)
		}
	}
}

func TestCutShortNotFinalPanics(t *testing.T) {
	c := mustCutter(t, DefaultParams())
	defer func() {
		if recover() == nil {
			t.Fatal("Cut with fewer than max bytes and final unset did not panic")
		}
	}()
	c.Cut(make([]byte, 1000), false)
}

// TestResync edits bytes in the middle of a segment and checks that the
// boundaries before the edit are unchanged and those after it realign
// within a few chunks.
func TestResync(t *testing.T) {
	for _, p := range testParams[:2] {
		t.Run(p.String(), func(t *testing.T) {
			c := mustCutter(t, p)
			before := randomInput(8, 8<<20)
			after := slices.Clone(before)
			mid := len(after) / 2
			copy(after[mid:], randomInput(9, 100))
			after = slices.Insert(after, mid+5000, []byte("inserted bytes")...)

			cb := offsets(cutAll(before, func(d []byte) int { return c.Cut(d, true) }))
			ca := offsets(cutAll(after, func(d []byte) int { return c.Cut(d, true) }))
			shift := len(after) - len(before)
			seen := map[int]bool{}
			for _, o := range ca {
				seen[o] = true
			}
			// A cut depends only on the bytes before it, so no boundary up
			// to the edit may move; after it, the 64-byte window must
			// realign within a few chunks.
			lost := 0
			for _, o := range cb {
				switch {
				case o <= mid && !seen[o]:
					t.Fatalf("boundary %d, before the edit at %d, moved", o, mid)
				case o > mid && !seen[o+shift]:
					lost++
				}
			}
			if lost > 3 {
				t.Fatalf("edit moved %d of %d boundaries after it; want a local change", lost, len(cb))
			}
			if len(cb) < 20 {
				t.Fatalf("only %d chunks: input too small to show resync", len(cb))
			}
		})
	}
}

func offsets(lengths []int) []int {
	out := make([]int, len(lengths))
	off := 0
	for i, n := range lengths {
		off += n
		out[i] = off
	}
	return out
}

func TestCutAllocs(t *testing.T) {
	c := mustCutter(t, DefaultParams())
	data := mixedInput(1 << 20)
	if a := testing.AllocsPerRun(100, func() { c.Cut(data, false); c.Cut(data[:1000], true) }); a != 0 {
		t.Fatalf("Cut allocates %v times per run, want 0", a)
	}
}

// Peek agrees with Cut on every prefix that decides the cut.
func TestPeekAgreesWithCut(t *testing.T) {
	c, err := NewCutter(DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	data := make([]byte, 4*DefaultParams().Max)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	// Runs of one byte exercise scan's run skipping.
	for i := 0; i < len(data); i += 97 << 10 {
		clear(data[i : i+min(20000, len(data)-i)])
	}
	for off := 0; off+DefaultParams().Max <= len(data); off += 4099 {
		want := c.Cut(data[off:], false)
		decided := false
		for n := 1; n <= DefaultParams().Max; n += 331 {
			got, ok := c.Peek(data[off : off+n])
			if ok && got != want {
				t.Fatalf("at %d: Peek of %d bytes says %d, Cut %d", off, n, got, want)
			}
			decided = decided || ok
			if n >= want && want < DefaultParams().Max && !ok {
				t.Fatalf("at %d: Peek of %d bytes undecided, Cut says %d", off, n, want)
			}
		}
		if !decided {
			t.Fatalf("at %d: never decided", off)
		}
	}
}
