package fusefs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/volume"
)

// scaleProcs are the GOMAXPROCS values BenchmarkSequentialReadScaling runs
// at, the same as ingest's and export's scaling benchmarks.
var scaleProcs = []int{1, 2, 4, 8, 16}

// BenchmarkSequentialReadScaling reads one volume from start to end through
// a fresh vmrep mount (chunk cache empty, packs in page cache) at each
// GOMAXPROCS in scaleProcs and reports the speed-up over GOMAXPROCS=1 of the
// same run. The store is reopened and the volume mounted after the setting,
// so its decoders and the prefetcher's workers follow it as a daemon started
// on a machine of that size would. A setting above runtime.NumCPU() cannot
// scale; "cpus" says how many the machine had. The volume is a quarter of
// VMREP_BENCH_SIZE (256 MiB by default), so five settings stay short.
func BenchmarkSequentialReadScaling(b *testing.B) {
	requireFUSE(b)
	ctx := context.Background()
	size := benchSize(b) / 4
	f := newFixture(b, nil)
	src := filepath.Join(b.TempDir(), "vol")
	writeImage(b, src, size, 99)
	f.snapshot(b, f.createVG(b, "bench", map[string]string{"boot": src}, "boot"))
	os.Remove(src)
	f.store.Close() // reopened per setting below; Close again in cleanup is a no-op
	buf := make([]byte, 1<<20)
	kra := kernelReadAhead(b)
	var base float64 // MB/s at GOMAXPROCS=1, when it ran
	for _, procs := range scaleProcs {
		b.Run(fmt.Sprintf("procs=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			st, err := cas.Open(ctx, f.dir, cas.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			cat := volume.NewCatalog(st)
			b.SetBytes(size)
			var busy time.Duration
			for range b.N {
				b.StopTimer()
				dir := filepath.Join(b.TempDir(), "mnt")
				if err := os.Mkdir(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				m, err := Mount(ctx, dir, cat, st, Options{KernelReadAhead: kra})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				n := readAll(b, filepath.Join(dir, "bench", "1", "boot.img"), buf)
				busy += time.Since(t0)
				b.StopTimer()
				if err := m.Unmount(); err != nil {
					b.Fatal(err)
				}
				if n != size {
					b.Fatalf("read %d bytes, want %d", n, size)
				}
				b.StartTimer()
			}
			mbps := float64(size) * float64(b.N) / busy.Seconds() / 1e6
			if procs == 1 {
				base = mbps
			}
			if base > 0 {
				b.ReportMetric(mbps/base, "speedup-vs-1")
			}
			b.ReportMetric(float64(runtime.NumCPU()), "cpus")
		})
	}
}
