package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/seal"
	"github.com/vmrep/vmrep/engine/source"
)

// BenchmarkIngestEncryption is a cold ingest of the mixed image into a
// plain store and into an encrypted one, in the same run, so that their
// ratio is the cost of encryption at rest. The image is 256 MiB, or
// VMREP_BENCH_SIZE MiB.
func BenchmarkIngestEncryption(b *testing.B) {
	size := int64(256 << 20)
	if v, err := strconv.ParseInt(os.Getenv("VMREP_BENCH_SIZE"), 10, 64); err == nil && v > 0 {
		size = v << 20
	}
	work := benchStoreDir(b)
	img := filepath.Join(b.TempDir(), "mixed.img")
	mixedImage(b, img, size)
	kek := seal.NewDataKey()
	for _, encrypted := range []bool{false, true} {
		name := "plain"
		if encrypted {
			name = "encrypted"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			for i := range b.N {
				b.StopTimer()
				dir := filepath.Join(work, name+"-"+strconv.Itoa(i))
				cfg := benchConfig()
				var key []byte
				if encrypted {
					key = kek
					var err error
					if cfg, err = cfg.WithEncryption(kek); err != nil {
						b.Fatal(err)
					}
				}
				if err := cas.Init(context.Background(), dir, cfg); err != nil {
					b.Fatal(err)
				}
				s, err := cas.Open(context.Background(), dir, cas.Options{KEK: key})
				if err != nil {
					b.Fatal(err)
				}
				cut, err := ingest.NewCutter(s.Config().Chunker)
				if err != nil {
					b.Fatal(err)
				}
				src, err := source.Open(context.Background(), img)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				w := s.NewWriter()
				if _, err := ingest.Volume(context.Background(), w, src, ingest.Options{Cutter: cut}); err != nil {
					b.Fatal(err)
				}
				if err := w.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
				w.Close()
				b.StopTimer()
				src.Close()
				s.Close()
				os.RemoveAll(dir)
				b.StartTimer()
			}
		})
	}
}
