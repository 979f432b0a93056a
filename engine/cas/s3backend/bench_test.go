package s3backend_test

import (
	"context"
	"os"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/cas/castest"
)

// benchObject is a pack-sized object: what the store puts and reads from.
const benchObject = 16 << 20

// benchBackends gives the S3 backend on a loopback MinIO and the local
// backend, so one run compares them.
func benchBackends(b *testing.B) map[string]cas.Backend {
	srv := startMinIO(b)
	srv.Prefix = "bench"
	return map[string]cas.Backend{
		"s3":    newBackend(b, srv),
		"local": cas.NewLocalBackend(b.TempDir()),
	}
}

func BenchmarkPut(b *testing.B) {
	data := castest.RandomBytes(b, benchObject)
	tmp := b.TempDir()
	for name, be := range benchBackends(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(benchObject)
			b.ReportAllocs()
			for b.Loop() {
				f, err := os.CreateTemp(tmp, "put-*")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Write(data); err != nil {
					b.Fatal(err)
				}
				h := cas.Handle{Kind: cas.FilePack, Name: castest.RandomPackName(b)}
				if err := be.Put(context.Background(), h, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGet reads 1 MiB ranges, about what the store reads for a run of
// neighbouring chunks, from a pack-sized object.
func BenchmarkGet(b *testing.B) {
	const rangeSize = 1 << 20
	data := castest.RandomBytes(b, benchObject)
	for name, be := range benchBackends(b) {
		h := cas.Handle{Kind: cas.FilePack, Name: castest.RandomPackName(b)}
		castest.PutBytes(b, be, h, data)
		b.Run(name, func(b *testing.B) {
			p := make([]byte, rangeSize)
			b.SetBytes(rangeSize)
			b.ReportAllocs()
			off := int64(0)
			for b.Loop() {
				if err := be.ReadAt(context.Background(), h, p, off); err != nil {
					b.Fatal(err)
				}
				off = (off + rangeSize) % benchObject
			}
		})
	}
}
