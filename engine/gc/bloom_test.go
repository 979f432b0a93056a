package gc

import (
	"math/rand/v2"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

func TestBloom(t *testing.T) {
	const n = 200000
	b := newBloom(n)
	rng := rand.New(rand.NewPCG(7, 7))
	var ids []blob.ID
	for range n {
		var id blob.ID
		for i := 0; i < 32; i += 8 {
			v := rng.Uint64()
			for k := range 8 {
				id[i+k] = byte(v >> (8 * k))
			}
		}
		ids = append(ids, id)
		b.add(id)
	}
	for _, id := range ids {
		if !b.has(id) {
			t.Fatal("false negative: a live blob would be deleted")
		}
	}
	fp := 0
	for i := range n {
		if b.has(blob.Sum([]byte{byte(i), byte(i >> 8), byte(i >> 16), 1})) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.005 {
		t.Fatalf("false-positive rate %.4f", rate)
	}
}
