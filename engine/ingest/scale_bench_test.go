package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/source"
)

// scaleProcs are the GOMAXPROCS values BenchmarkIngestScaling runs at.
var scaleProcs = []int{1, 2, 4, 8, 16}

// BenchmarkIngestScaling runs a cold ingest of the mixed image at each
// GOMAXPROCS in scaleProcs, the store opened after the setting so its
// encoders follow it, and reports the speed-up over GOMAXPROCS=1 of the same
// run. A setting above runtime.NumCPU() cannot scale; "cpus" says how many
// the machine had. The image is a quarter of VMREP_BENCH_SIZE (256 MiB by
// default), so five settings stay short.
func BenchmarkIngestScaling(b *testing.B) {
	size := benchSize() / 4
	work := benchStoreDir(b)
	img := filepath.Join(b.TempDir(), "mixed.img")
	mixedImage(b, img, size)
	var base float64 // MB/s at GOMAXPROCS=1, when it ran
	for _, procs := range scaleProcs {
		b.Run(fmt.Sprintf("procs=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			b.SetBytes(size)
			var busy time.Duration
			for i := range b.N {
				b.StopTimer()
				r := newRepoWith(b, filepath.Join(work, "scale-"+strconv.Itoa(procs)+"-"+strconv.Itoa(i)), benchConfig())
				src, err := source.Open(context.Background(), img)
				if err != nil {
					b.Fatal(err)
				}
				w := r.store.NewWriter()
				b.StartTimer()
				t0 := time.Now()
				if _, err := ingest.Volume(context.Background(), w, src, ingest.Options{Cutter: r.cut}); err != nil {
					b.Fatal(err)
				}
				if err := w.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
				busy += time.Since(t0)
				b.StopTimer()
				w.Close()
				src.Close()
				r.store.Close()
				os.RemoveAll(r.dir)
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
