package export_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/export"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// BenchmarkExportQcow2 exports a 256 MiB volume (three quarters data, one
// quarter holes) as QCOW2, beside a raw restore of the same volume for
// comparison.
func BenchmarkExportQcow2(b *testing.B) {
	const size = 256 << 20
	ctx := context.Background()
	dir := b.TempDir()
	s, cut := openStore(b, filepath.Join(dir, "store"))
	rng := newRand(20)
	pieces := map[int64][]byte{}
	for i := range int64(4) {
		// 48 MiB of data, then 16 MiB left as a hole.
		pieces[i*64<<20] = testdisk.Content(rng, int(i%3), 48<<20)
	}
	src := filepath.Join(dir, "src.img")
	writeSparse(b, src, size, pieces)
	m := ingestImage(b, s, cut, src)
	out := filepath.Join(dir, "out")

	b.Run("qcow2", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := export.Volume(ctx, s, m, export.FormatQcow2, out, export.Options{}); err != nil {
				b.Fatal(err)
			}
			os.Remove(out)
		}
	})
	b.Run("raw-restore", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := restore.ToPath(ctx, s, m, out, restore.Options{}); err != nil {
				b.Fatal(err)
			}
			os.Remove(out)
		}
	})
}
