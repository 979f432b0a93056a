package replica

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
)

// scaleProcs are the GOMAXPROCS values BenchmarkExportScaling runs at, the
// same as ingest's BenchmarkIngestScaling.
var scaleProcs = []int{1, 2, 4, 8, 16}

// BenchmarkExportScaling exports a delta whose target rewrites the whole
// base (mixed data, as BenchmarkThroughput's export) at each GOMAXPROCS in
// scaleProcs, and reports the speed-up over GOMAXPROCS=1 of the same run.
// The store is reopened after the setting, so its decoders follow it as a
// daemon started on a machine of that size would. A setting above
// runtime.NumCPU() cannot scale; "cpus" says how many the machine had. The
// image is a quarter of VMREP_BENCH_CHANGED_MIB (256 MiB by default), so
// five settings stay short.
func BenchmarkExportScaling(b *testing.B) {
	size := benchSize("VMREP_BENCH_CHANGED_MIB", 1<<30) / 4
	dir := b.TempDir()
	base, target := pairFiles(b, dir, size, func(f *os.File) {
		fillMixed(b, f, rand.New(rand.NewSource(3)), 0, size)
	})
	e, s1, s2 := snapPair(b, base, target)
	storeDir := filepath.Join(e.dir, "store")
	e.store.Close() // reopened per setting below; Close again in cleanup is a no-op
	out := filepath.Join(dir, "d.vmdelta")
	ctx := context.Background()
	var base1 float64 // MB/s at GOMAXPROCS=1, when it ran
	for _, procs := range scaleProcs {
		b.Run(fmt.Sprintf("procs=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			st, err := cas.Open(ctx, storeDir, cas.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			b.SetBytes(size)
			n := 0
			t0 := time.Now()
			for b.Loop() {
				if _, err := build.Export(ctx, st, s1, s2, delta.FileSink(out), build.ExportOptions{}); err != nil {
					b.Fatal(err)
				}
				n++
			}
			mbps := float64(size) * float64(n) / time.Since(t0).Seconds() / 1e6
			if procs == 1 {
				base1 = mbps
			}
			if base1 > 0 {
				b.ReportMetric(mbps/base1, "speedup-vs-1")
			}
			b.ReportMetric(float64(runtime.NumCPU()), "cpus")
		})
	}
}
