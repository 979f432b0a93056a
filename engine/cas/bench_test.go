package cas

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

// benchPut stores b.N distinct 64 KiB blobs from 2 goroutines.
func benchPut(b *testing.B, gen func(r *rand.Rand, n int) []byte) {
	ctx := context.Background()
	s, _ := newTestStore(b, 64<<20)
	const size = 64 << 10
	base := gen(rand.New(rand.NewPCG(1, 1)), size)
	var seq atomic.Uint64
	b.SetBytes(size)
	b.ReportAllocs()
	b.SetParallelism(1) // with GOMAXPROCS=2: 2 goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		data := append([]byte(nil), base...)
		for pb.Next() {
			// Vary a few bytes so each blob is new without paying for a
			// fresh random buffer per iteration.
			binary.LittleEndian.PutUint64(data, seq.Add(1))
			binary.LittleEndian.PutUint64(data[size/2:], seq.Load())
			if _, err := s.Put(ctx, blob.Chunk, blob.Sum(data), data); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkPut(b *testing.B)             { benchPut(b, randomBlob) }
func BenchmarkPutCompressible(b *testing.B) { benchPut(b, compressibleBlob) }

func benchStore(b *testing.B, n int) (*Store, []blob.ID) {
	s, _ := newTestStore(b, 64<<20)
	r := rand.New(rand.NewPCG(2, 2))
	ids := make([]blob.ID, n)
	for i := range ids {
		ids[i] = mustPut(b, s, randomBlob(r, 64<<10))
	}
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s, ids
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	s, ids := benchStore(b, 256)
	buf := make([]byte, 0, 64<<10)
	b.SetBytes(64 << 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var err error
		if buf, err = s.Get(ctx, ids[i%len(ids)], buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHas(b *testing.B) {
	ctx := context.Background()
	s, ids := benchStore(b, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if ok, err := s.Has(ctx, ids[i%len(ids)]); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
