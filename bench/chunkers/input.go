package chunkers

import (
	"encoding/binary"
	"math/rand/v2"
)

const mib = 1 << 20

func randomBytes(seed uint64, n int) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	copy(s[8:], "vmrep chunker bench input")
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

var words = []string{
	"the", "volume", "snapshot", "chunk", "of", "a", "disk", "and", "to",
	"replica", "boot", "data", "is", "in", "store", "manifest", "page",
	"hole", "zero", "delta", "write", "read", "block", "sector", "file",
	"config", "kernel", "usr", "lib", "etc", "var", "log", "error", "info",
}

func textBytes(seed uint64, n int) []byte {
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

// MixedInput returns n bytes, per MiB half random, a quarter text-like and
// a quarter zeros.
func MixedInput(n int) []byte {
	b := make([]byte, 0, n+mib)
	for seed := uint64(1); len(b) < n; seed++ {
		b = append(b, randomBytes(seed, mib/2)...)
		b = append(b, textBytes(seed, mib/4)...)
		b = append(b, make([]byte, mib/4)...)
	}
	return b[:n]
}

// Mutate returns a copy of data with random 4 KiB writes at random 4 KiB
// aligned offsets until frac of its bytes have been written.
func Mutate(data []byte, frac float64, seed uint64) []byte {
	const block = 4 << 10
	out := make([]byte, len(data))
	copy(out, data)
	r := rand.New(rand.NewPCG(seed, 0x6d757461))
	writes := int(frac * float64(len(data)) / block)
	noise := randomBytes(seed+1000, writes*block)
	for i := range writes {
		off := r.IntN(len(data)/block) * block
		copy(out[off:off+block], noise[i*block:])
	}
	return out
}
