package gc

import (
	"encoding/binary"
	"math"

	"github.com/vmrep/vmrep/engine/blob"
)

// bloom is a Bloom filter over blob IDs. IDs are BLAKE3 digests, uniform
// already, so the probe positions come from the ID's own bytes by double
// hashing instead of from another hash function.
type bloom struct {
	bits []uint64
	m    uint64
	k    int
}

// newBloom sizes a filter for n IDs at about a 0.1% false-positive rate.
func newBloom(n int64) *bloom {
	const bitsPer = 15
	m := uint64(max(n, 1024)) * bitsPer
	m = (m + 63) &^ 63
	k := int(math.Round(bitsPer * math.Ln2))
	return &bloom{bits: make([]uint64, m/64), m: m, k: k}
}

func (b *bloom) probes(id blob.ID, fn func(bit uint64)) {
	h1 := binary.LittleEndian.Uint64(id[0:8])
	h2 := binary.LittleEndian.Uint64(id[8:16]) | 1
	for i := range b.k {
		fn((h1 + uint64(i)*h2) % b.m)
	}
}

func (b *bloom) add(id blob.ID) {
	b.probes(id, func(bit uint64) { b.bits[bit/64] |= 1 << (bit % 64) })
}

func (b *bloom) has(id blob.ID) bool {
	ok := true
	b.probes(id, func(bit uint64) {
		if b.bits[bit/64]&(1<<(bit%64)) == 0 {
			ok = false
		}
	})
	return ok
}
