package chunker

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// Deterministic inputs shared by the tests, the golden file and the
// benchmarks. Changing any generator changes the golden file, which records
// each input's SHA-256 to tell such a change from a boundary change.

func chachaSeed(seed uint64) [32]byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	copy(s[8:], "vmrep chunker test input")
	return s
}

// randomInput returns n bytes from ChaCha8 seeded with seed.
func randomInput(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(chachaSeed(seed)).Read(b)
	return b
}

var words = []string{
	"the", "volume", "snapshot", "chunk", "of", "a", "disk", "and", "to",
	"replica", "boot", "data", "is", "in", "store", "manifest", "page",
	"hole", "zero", "delta", "write", "read", "block", "sector", "file",
	"config", "kernel", "usr", "lib", "etc", "var", "log", "error", "info",
}

// textInput returns n bytes of text-like data: words, spaces and newlines.
func textInput(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x74657874))
	b := make([]byte, 0, n+16)
	for len(b) < n {
		b = append(b, words[r.IntN(len(words))]...)
		if r.IntN(12) == 0 {
			b = append(b, '\n')
		} else {
			b = append(b, ' ')
		}
	}
	return b[:n]
}

// zeroHeavyInput returns n bytes alternating short random pieces with long
// zero runs, as in a sparsely used disk.
func zeroHeavyInput(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x7a65726f))
	b := make([]byte, n)
	noise := randomInput(seed, n)
	for i := 0; i < n; {
		piece := min(n-i, 512+r.IntN(8<<10))
		copy(b[i:i+piece], noise[i:i+piece])
		i += piece + 4<<10 + r.IntN(96<<10) // the gap stays zero
	}
	return b
}

// mixedInput returns n bytes, per MiB half random, a quarter text and a
// quarter zeros: the benchmark input.
func mixedInput(n int) []byte {
	const mib = 1 << 20
	b := make([]byte, 0, n+mib)
	for seed := uint64(1); len(b) < n; seed++ {
		b = append(b, randomInput(seed, mib/2)...)
		b = append(b, textInput(seed, mib/4)...)
		b = append(b, make([]byte, mib/4)...)
	}
	return b[:n]
}

// periodicInput repeats a random pattern of period bytes.
func periodicInput(seed uint64, period, n int) []byte {
	pat := randomInput(seed, period)
	b := make([]byte, n)
	for i := range b {
		b[i] = pat[i%period]
	}
	return b
}

// refCut is the plain one-byte FastCDC loop of doc.go, kept apart from the
// optimized scanner so tests can prove both give the same boundaries.
func refCut(c *Cutter, data []byte) int {
	p := c.params
	n := min(len(data), p.Max)
	if n <= p.Min {
		return n
	}
	var fp uint64
	for i := p.Min; i < n; i++ {
		fp = fp<<1 + gear[data[i]]
		mask := c.maskL
		if i < p.Avg {
			mask = c.maskS
		}
		if fp&mask == 0 {
			return i + 1
		}
	}
	return n
}

// cutAll chunks a whole segment with cut and returns the chunk lengths.
func cutAll(data []byte, cut func([]byte) int) []int {
	var lengths []int
	for len(data) > 0 {
		n := cut(data)
		lengths = append(lengths, n)
		data = data[n:]
	}
	return lengths
}

func mustCutter(tb testing.TB, p Params) *Cutter {
	tb.Helper()
	c, err := NewCutter(p)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// testParams are the parameter sets the property tests run against.
var testParams = []Params{
	DefaultParams(),
	{Min: 2 << 10, Avg: 8 << 10, Max: 64 << 10},
	{Min: 64, Avg: 128, Max: 256},
	{Min: 100, Avg: 512, Max: 1000},
	{Min: 1 << 20, Avg: 2 << 20, Max: 4 << 20},
}
