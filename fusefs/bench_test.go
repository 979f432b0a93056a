package fusefs

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/bench/fuseceiling"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/volume"
)

// benchSize is the volume size: 1 GiB, or VMREP_BENCH_SIZE ("4G", "512M").
func benchSize(b *testing.B) int64 {
	s := os.Getenv("VMREP_BENCH_SIZE")
	if s == "" {
		return 1 << 30
	}
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		b.Fatalf("VMREP_BENCH_SIZE=%q: %v", os.Getenv("VMREP_BENCH_SIZE"), err)
	}
	return n * mult
}

// kernelReadAhead is the kernel read-ahead both mounts get, in KiB: the
// default, or VMREP_BENCH_KERNEL_RA (-1 leaves the kernel's own).
func kernelReadAhead(b *testing.B) int {
	s := os.Getenv("VMREP_BENCH_KERNEL_RA")
	if s == "" {
		return DefaultKernelReadAhead
	}
	n, err := strconv.Atoi(s)
	if err != nil || n == 0 {
		b.Fatalf("VMREP_BENCH_KERNEL_RA=%q: want KiB, or -1", s)
	}
	return n
}

// readAll reads path from start to end with 1 MiB reads.
func readAll(b *testing.B, path string, buf []byte) int64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var total int64
	for {
		n, err := f.Read(buf)
		total += int64(n)
		if err == io.EOF {
			return total
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSequentialRead reads one volume through vmrep's mount and the
// same bytes through the FUSE ceiling (a trivial in-memory go-fuse file with
// the same mount options), first on a fresh mount and again with the kernel
// page cache kept, and compares random 4 KiB reads with the restored file.
// Store packs are in the page cache (just written); the chunk cache starts
// empty on every fresh mount.
func BenchmarkSequentialRead(b *testing.B) {
	requireFUSE(b)
	ctx := context.Background()
	size := benchSize(b)
	f := newFixture(b, nil)
	src := filepath.Join(b.TempDir(), "vol")
	data := writeImage(b, src, size, 99)
	vg := f.createVG(b, "bench", map[string]string{"boot": src}, "boot")
	snap := f.snapshot(b, vg)
	peer := newDesyncPeer(b, src)
	os.Remove(src) // the ceiling serves data from memory
	buf := make([]byte, 1<<20)
	kra := kernelReadAhead(b)

	mountVmrep := func(b *testing.B) (*Mounted, string) {
		dir := filepath.Join(b.TempDir(), "mnt")
		os.Mkdir(dir, 0o755)
		m, err := Mount(ctx, dir, f.cat, f.store, Options{KernelReadAhead: kra})
		if err != nil {
			b.Fatal(err)
		}
		return m, filepath.Join(dir, "bench", "1", "boot.img")
	}
	mountCeiling := func(b *testing.B) (*fuseceiling.Server, string) {
		dir := filepath.Join(b.TempDir(), "ceil")
		os.Mkdir(dir, 0o755)
		s, err := fuseceiling.Mount(dir, data, MountOptions(false))
		if err != nil {
			b.Fatal(err)
		}
		// The same kernel read-ahead as vmrep's mount gets.
		if kra > 0 {
			if err := setKernelReadAhead(dir, kra); err != nil {
				b.Fatal(err)
			}
		}
		return s, filepath.Join(dir, fuseceiling.FileName)
	}
	type unmounter interface{ Unmount() error }
	first := func(mount func(*testing.B) (unmounter, string)) func(*testing.B) {
		return func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				b.StopTimer()
				u, path := mount(b)
				b.StartTimer()
				if n := readAll(b, path, buf); n != size {
					b.Fatalf("read %d bytes, want %d", n, size)
				}
				b.StopTimer()
				if err := u.Unmount(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		}
	}
	second := func(mount func(*testing.B) (unmounter, string)) func(*testing.B) {
		return func(b *testing.B) {
			u, path := mount(b)
			defer u.Unmount()
			readAll(b, path, buf)
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				readAll(b, path, buf)
			}
		}
	}
	vm := func(b *testing.B) (unmounter, string) { return mountVmrep(b) }
	ceil := func(b *testing.B) (unmounter, string) { return mountCeiling(b) }
	b.Run("ceiling-first", first(ceil))
	b.Run("vmrep-first", first(vm))
	if peer != nil {
		b.Run("desync-first", first(func(b *testing.B) (unmounter, string) { return peer.mount(b) }))
	} else {
		b.Log("desync not installed (scripts/install-desync.sh): no peer comparison")
	}
	b.Run("ceiling-second", second(ceil))
	b.Run("vmrep-second", second(vm))

	man, err := volume.LoadManifest(ctx, f.store, snap.Volumes[0].Manifest)
	if err != nil {
		b.Fatal(err)
	}
	restored := filepath.Join(b.TempDir(), "restored.img")
	if _, err := restore.ToPath(ctx, f.store, man, restored, restore.Options{}); err != nil {
		b.Fatal(err)
	}
	random := func(mount func(*testing.B) (unmounter, string)) func(*testing.B) {
		return func(b *testing.B) {
			u, path := mount(b)
			defer u.Unmount()
			fh, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer fh.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			p := make([]byte, 4<<10)
			b.SetBytes(int64(len(p)))
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := fh.ReadAt(p, rng.Int64N(size/4096)*4096); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reads/s")
		}
	}
	b.Run("random4k-vmrep", random(vm))
	b.Run("random4k-restored", random(func(*testing.B) (unmounter, string) { return nopUnmount{}, restored }))
}

type nopUnmount struct{}

func (nopUnmount) Unmount() error { return nil }
