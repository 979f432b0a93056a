package source

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var (
	benchOnce sync.Once
	benchDir  string
)

// benchImages builds a 256 MiB disk, mostly random data with some holes,
// and its qcow2, vmdk and vhdx conversions.
func benchImages(b *testing.B) string {
	requireTool(b, "qemu-img")
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "source-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
		f, err := os.Create(filepath.Join(dir, "disk.raw"))
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		buf := make([]byte, 1<<20)
		for i := int64(0); i < 256; i++ {
			if i%8 == 7 {
				continue // a hole every 8 MiB
			}
			for j := range buf {
				buf[j] = byte(rng.Uint32())
			}
			f.WriteAt(buf, i<<20)
		}
		f.Truncate(256 << 20)
		f.Close()
		for _, c := range [][]string{
			{"-O", "qcow2", "disk.qcow2"},
			{"-O", "vmdk", "-o", "subformat=monolithicSparse", "disk.vmdk"},
			{"-O", "vhdx", "-o", "subformat=dynamic", "disk.vhdx"},
		} {
			run(b, dir, "qemu-img", append([]string{"convert", "-f", "raw", "disk.raw"}, c...)...)
		}
	})
	return benchDir
}

func benchRead(b *testing.B, file string) {
	path := filepath.Join(benchImages(b), file)
	r, err := Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 4<<20)
	b.SetBytes(r.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for off := int64(0); off < r.Size(); off += int64(len(buf)) {
			if _, err := r.ReadAt(buf, off); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkReadRaw(b *testing.B)   { benchRead(b, "disk.raw") }
func BenchmarkReadQcow2(b *testing.B) { benchRead(b, "disk.qcow2") }
func BenchmarkReadVMDK(b *testing.B)  { benchRead(b, "disk.vmdk") }
func BenchmarkReadVHDX(b *testing.B)  { benchRead(b, "disk.vhdx") }
