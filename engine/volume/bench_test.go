package volume

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
)

// BenchmarkManifestWriter measures entries per second through the writer,
// pages hashed and handed to a store that keeps only the last.
func BenchmarkManifestWriter(b *testing.B) {
	rng := rand.New(rand.NewPCG(17, 18))
	es := randomEntries(rng, 1<<16, 0.1, 0)
	for i := range es {
		es[i].ID = chunkID(rng, rng.IntN(4096) == 0)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	mw := NewManifestWriter(&discardWriter{})
	for i := 0; i < b.N; i++ {
		if err := mw.Add(ctx, es[i%len(es)]); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := mw.Finish(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkFindPage looks up random offsets in the top page of a 1 TiB
// volume of 64 KiB chunks: 16M entries in about 4096 pages, made without
// chunk data.
func BenchmarkFindPage(b *testing.B) {
	terabyteOnce.Do(func() { terabyte, terabyteErr = makeTerabyteManifest() })
	if terabyteErr != nil {
		b.Fatal(terabyteErr)
	}
	m := terabyte
	rng := rand.New(rand.NewPCG(21, 22))
	offs := make([]int64, 4096)
	for i := range offs {
		offs[i] = rng.Int64N(m.Size)
	}
	b.ReportAllocs()
	b.ResetTimer()
	sink := 0
	for i := 0; i < b.N; i++ {
		sink += m.FindPage(offs[i&4095])
	}
	b.StopTimer()
	if sink < 0 {
		b.Fatal("offset outside the volume")
	}
	b.ReportMetric(float64(len(m.Pages)), "pages")
}

// The 16M-entry manifest is built once: the framework calls a benchmark
// several times while it sizes b.N.
var (
	terabyteOnce sync.Once
	terabyte     *Manifest
	terabyteErr  error
)

func makeTerabyteManifest() (*Manifest, error) {
	const entries = 1 << 24
	rng := rand.New(rand.NewPCG(19, 20))
	dw := &discardWriter{}
	mw := NewManifestWriter(dw)
	ctx := context.Background()
	for i := 0; i < entries; i++ {
		if err := mw.Add(ctx, Entry{ID: chunkID(rng, rng.IntN(4096) == 0), Length: 64 << 10}); err != nil {
			return nil, err
		}
	}
	info, err := mw.Finish(ctx)
	if err != nil {
		return nil, err
	}
	return LoadManifest(ctx, dw, info.ID)
}
