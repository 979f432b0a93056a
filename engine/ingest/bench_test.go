package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// benchSize is the image size of BenchmarkIngest: 1 GiB, or VMREP_BENCH_SIZE
// in MiB (4096 for the figure issue 3 asks for).
func benchSize() int64 {
	if v, err := strconv.ParseInt(os.Getenv("VMREP_BENCH_SIZE"), 10, 64); err == nil && v > 0 {
		return v << 20
	}
	return 1 << 30
}

// mixedImage writes the brief's mix: per 64 MiB, half random, a quarter zero
// runs, a quarter text.
func mixedImage(b *testing.B, path string, size int64) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rng := newRand(42)
	const unit = 64 << 20
	for off := int64(0); off < size; off += unit {
		if _, err := f.WriteAt(testdisk.Content(rng, 0, unit/2), off); err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteAt(make([]byte, unit/4), off+unit/2); err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteAt(testdisk.Content(rng, 1, unit/4), off+3*unit/4); err != nil {
			b.Fatal(err)
		}
	}
}

// benchStoreDir is where BenchmarkIngest puts its stores: VMREP_BENCH_STORE
// (a tmpfs such as /dev/shm takes the disk's write speed out of the figure),
// or a temp dir on the test's file system.
func benchStoreDir(b *testing.B) string {
	if d := os.Getenv("VMREP_BENCH_STORE"); d != "" {
		dir, err := os.MkdirTemp(d, "vmrep-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

// benchConfig is the store config of BenchmarkIngest: the default, with
// VMREP_BENCH_COMPRESSION (zstd, s2, none) overriding the compression.
func benchConfig() cas.Config {
	cfg := cas.DefaultConfig()
	if c := os.Getenv("VMREP_BENCH_COMPRESSION"); c != "" {
		cfg.Compression = c
	}
	return cfg
}

// BenchmarkIngest measures a cold ingest of a mixed image from the page cache
// into a fresh store, and a re-ingest of the same image, which stores nothing.
// It reports where the time went, summed over goroutines.
func BenchmarkIngest(b *testing.B) {
	size := benchSize()
	work := benchStoreDir(b)
	img := filepath.Join(b.TempDir(), "mixed.img")
	mixedImage(b, img, size)
	run := func(b *testing.B, r *repo) ingest.Stats {
		src, err := source.Open(context.Background(), img)
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		w := r.store.NewWriter()
		defer w.Close()
		st, err := ingest.Volume(context.Background(), w, src, ingest.Options{Cutter: r.cut})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		return st
	}
	report := func(b *testing.B, st ingest.Stats) {
		n := float64(b.N)
		b.ReportMetric(st.ReadTime.Seconds()/n, "read-s/op")
		b.ReportMetric(st.SegmentTime.Seconds()/n, "segment-s/op")
		b.ReportMetric(st.HashTime.Seconds()/n, "hash-s/op")
		b.ReportMetric(st.StoreTime.Seconds()/n, "store-s/op")
	}
	b.Run("cold", func(b *testing.B) {
		b.SetBytes(size)
		var total ingest.Stats
		for i := range b.N {
			b.StopTimer()
			r := newRepoWith(b, filepath.Join(work, "cold-"+strconv.Itoa(i)), benchConfig())
			b.StartTimer()
			st := run(b, r)
			if i == 0 {
				ss, _ := r.store.Stats(context.Background())
				b.ReportMetric(float64(ss.StoredBytes)/(1<<20), "store-MiB")
			}
			total.ReadTime += st.ReadTime
			total.SegmentTime += st.SegmentTime
			total.HashTime += st.HashTime
			total.StoreTime += st.StoreTime
			b.StopTimer()
			r.store.Close()
			os.RemoveAll(r.dir)
			b.StartTimer()
		}
		report(b, total)
	})
	b.Run("reingest", func(b *testing.B) {
		r := newRepoWith(b, filepath.Join(work, "warm"), benchConfig())
		run(b, r)
		b.SetBytes(size)
		b.ResetTimer()
		var total ingest.Stats
		for range b.N {
			st := run(b, r)
			if st.NewBytes != 0 {
				b.Fatalf("re-ingest stored %d new bytes", st.NewBytes)
			}
			total.ReadTime += st.ReadTime
			total.SegmentTime += st.SegmentTime
			total.HashTime += st.HashTime
			total.StoreTime += st.StoreTime
		}
		report(b, total)
	})
}
