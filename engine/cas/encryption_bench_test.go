package cas

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/seal"
)

// BenchmarkEncryption measures store Put (64 KiB random blobs, sealed in
// packs) and Get (a ranged read of one blob, its segments opened) on a
// plain and an encrypted store in the same run.
func BenchmarkEncryption(b *testing.B) {
	kek := seal.NewDataKey()
	for _, encrypted := range []bool{false, true} {
		name := "plain"
		if encrypted {
			name = "encrypted"
		}
		open := func(b *testing.B) *Store {
			if !encrypted {
				s, _ := newTestStore(b, 64<<20)
				return s
			}
			dir := b.TempDir()
			cfg := DefaultConfig()
			cfg, err := cfg.WithEncryption(kek)
			if err != nil {
				b.Fatal(err)
			}
			if err := Init(context.Background(), dir, cfg); err != nil {
				b.Fatal(err)
			}
			s, err := Open(context.Background(), dir, Options{KEK: kek})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}
		b.Run("Put/"+name, func(b *testing.B) {
			ctx := context.Background()
			s := open(b)
			data := randomBlob(rand.New(rand.NewPCG(1, 1)), 64<<10)
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := range b.N {
				binary.LittleEndian.PutUint64(data, uint64(i))
				if _, err := s.Put(ctx, blob.Chunk, blob.Sum(data), data); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		})
		b.Run("Get/"+name, func(b *testing.B) {
			ctx := context.Background()
			s := open(b)
			r := rand.New(rand.NewPCG(2, 2))
			ids := make([]blob.ID, 256)
			for i := range ids {
				ids[i] = mustPut(b, s, randomBlob(r, 64<<10))
			}
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(64 << 10)
			b.ResetTimer()
			var buf []byte
			for i := range b.N {
				var err error
				if buf, err = s.Get(ctx, ids[i%len(ids)], buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
