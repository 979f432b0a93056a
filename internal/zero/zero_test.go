package zero

import (
	"math/rand/v2"
	"testing"
)

func naiveFirst(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

func TestIsAndFirst(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 8, 9, 4095, 65535, 65536, 65537, 200000} {
		b := make([]byte, n)
		if !Is(b) || First(b) != -1 {
			t.Fatalf("len %d all zero: Is=%v First=%d", n, Is(b), First(b))
		}
		for k := 0; k < 20 && n > 0; k++ {
			clear(b)
			at := r.IntN(n)
			b[at] = byte(1 + r.IntN(255))
			if Is(b) {
				t.Fatalf("len %d: byte %d set, Is says zero", n, at)
			}
			if got := First(b); got != at {
				t.Fatalf("len %d: First = %d, want %d", n, got, at)
			}
		}
	}
}

func FuzzFirst(f *testing.F) {
	f.Add([]byte{0, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		want := naiveFirst(b)
		if got := First(b); got != want {
			t.Fatalf("First = %d, want %d", got, want)
		}
		if Is(b) != (want < 0) {
			t.Fatalf("Is = %v, First = %d", Is(b), want)
		}
	})
}

func BenchmarkIs(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if !Is(buf) {
			b.Fatal("not zero")
		}
	}
}
