package replica

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// benchSize reads a size in MiB from env, or returns def.
func benchSize(env string, def int64) int64 {
	if n, err := strconv.ParseInt(os.Getenv(env), 10, 64); err == nil && n > 0 {
		return n << 20
	}
	return def
}

// fillMixed writes n bytes at off of f: a third random, the rest text-like,
// so zstd has both kinds of blocks to deal with.
func fillMixed(tb testing.TB, f *os.File, rng *rand.Rand, off, n int64) {
	buf := make([]byte, 1<<20)
	for pos := off; pos < off+n; pos += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), off+n-pos)]
		for i := 0; i < len(b); i += 4096 {
			blk := b[i:min(i+4096, len(b))]
			if rng.Intn(3) == 0 {
				rng.Read(blk)
			} else {
				for k := range blk {
					blk[k] = "vmrep replica snapshot kernel \n"[rng.Intn(31)]
				}
			}
		}
		if _, err := f.WriteAt(b, pos); err != nil {
			tb.Fatal(err)
		}
	}
}

// pairFiles writes base.img of size bytes and target.img, a copy changed by
// change, and returns both paths.
func pairFiles(tb testing.TB, dir string, size int64, change func(f *os.File)) (string, string) {
	rng := rand.New(rand.NewSource(1))
	base, target := filepath.Join(dir, "base.img"), filepath.Join(dir, "target.img")
	f, err := os.Create(base)
	if err != nil {
		tb.Fatal(err)
	}
	fillMixed(tb, f, rng, 0, size)
	f.Close()
	if out, err := exec.Command("cp", "--sparse=always", base, target).CombinedOutput(); err != nil {
		tb.Fatalf("cp: %v: %s", err, out)
	}
	if f, err = os.OpenFile(target, os.O_RDWR, 0); err != nil {
		tb.Fatal(err)
	}
	change(f)
	f.Close()
	return base, target
}

// snapPair ingests the two files as snapshots 1 and 2 of a one-volume VG
// with the store's default chunk sizes.
func snapPair(b *testing.B, base, target string) (*testEnv, volume.Snapshot, volume.Snapshot) {
	e := newTestEnvChunks(b, chunker.Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10})
	im := []image{{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot}}
	s1 := e.snapshotFrom(im, func(image) string { return base })
	s2 := e.snapshotFrom(im, func(image) string { return target })
	return e, s1, s2
}

func fileSize(tb testing.TB, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// BenchmarkDeltaSize1pct: 1% of a 256 MiB image (VMREP_BENCH_IMAGE_MIB
// for more, 4096 for the 4 GiB case) rewritten in scattered 4 KiB blocks.
// Reports the delta's size over the bytes changed, and the same for
// xdelta3 and an rsync batch made in the same run; MB/s counts changed
// bytes exported.
func BenchmarkDeltaSize1pct(b *testing.B) {
	testdisk.Need(b, "xdelta3", "rsync")
	size := benchSize("VMREP_BENCH_IMAGE_MIB", 256<<20)
	dir := b.TempDir()
	changed := map[int64]bool{}
	base, target := pairFiles(b, dir, size, func(f *os.File) {
		rng := rand.New(rand.NewSource(2))
		blk := make([]byte, 4096)
		for len(changed) < int(size/100/4096) {
			off := rng.Int63n(size/4096) * 4096
			rng.Read(blk)
			if _, err := f.WriteAt(blk, off); err != nil {
				b.Fatal(err)
			}
			changed[off] = true
		}
	})
	changedBytes := float64(len(changed) * 4096)
	e, s1, s2 := snapPair(b, base, target)
	out := filepath.Join(dir, "d.vmdelta")
	// MB/s is of changed data, the measure of a scattered export.
	b.SetBytes(int64(changedBytes))
	b.ResetTimer()
	for b.Loop() {
		if _, err := build.Export(context.Background(), e.store, s1, s2, delta.FileSink(out), build.ExportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	xd, rs := toolSizes(b, dir, base, target)
	b.ReportMetric(float64(fileSize(b, out))/changedBytes, "delta/changed")
	b.ReportMetric(float64(xd)/changedBytes, "xdelta3/changed")
	b.ReportMetric(float64(rs)/changedBytes, "rsync/changed")
	b.Logf("bytes: changed %.0f, delta %d, xdelta3 %d, rsync batch %d", changedBytes, fileSize(b, out), xd, rs)
	b.ReportMetric(changedBytes/(1<<20), "changed-MiB")
}

// toolSizes returns the sizes of the xdelta3 delta and the rsync batch that
// turn base into target.
func toolSizes(b *testing.B, dir, base, target string) (int64, int64) {
	xd := filepath.Join(dir, "x.xdelta")
	if o, err := exec.Command("xdelta3", "-e", "-f", "-s", base, target, xd).CombinedOutput(); err != nil {
		b.Fatalf("xdelta3: %v: %s", err, o)
	}
	// rsync compares against a copy of the base (it must not change it).
	dest := filepath.Join(dir, "dest.img")
	if o, err := exec.Command("cp", "--sparse=always", base, dest).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v: %s", err, o)
	}
	batch := filepath.Join(dir, "rsync.batch")
	os.Remove(batch)
	if o, err := exec.Command("rsync", "-I", "--no-whole-file", "--only-write-batch="+batch, target, dest).CombinedOutput(); err != nil {
		b.Fatalf("rsync: %v: %s", err, o)
	}
	return fileSize(b, xd), fileSize(b, batch)
}

// BenchmarkMoved64MiB: a 64 MiB region of a 256 MiB image is moved 1 MiB
// + 4 KiB further on. It reports what the delta holds (copy records carry
// most of it) and the xdelta3 and rsync sizes of the same change.
func BenchmarkMoved64MiB(b *testing.B) {
	testdisk.Need(b, "xdelta3", "rsync")
	size := int64(256 << 20)
	dir := b.TempDir()
	base, target := pairFiles(b, dir, size, func(f *os.File) {
		buf := make([]byte, 64<<20)
		if _, err := f.ReadAt(buf, 64<<20); err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteAt(buf, 64<<20+1<<20+4096); err != nil {
			b.Fatal(err)
		}
	})
	e, s1, s2 := snapPair(b, base, target)
	out := filepath.Join(dir, "d.vmdelta")
	var sum delta.Summary
	for b.Loop() {
		var err error
		if sum, err = build.Export(context.Background(), e.store, s1, s2, delta.FileSink(out), build.ExportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sum.FileBytes)/(1<<20), "delta-MiB")
	b.ReportMetric(float64(sum.DataBytes)/(1<<20), "data-MiB")
	b.ReportMetric(float64(sum.CopyBytes)/(1<<20), "copy-MiB")
	xd, rs := toolSizes(b, dir, base, target)
	b.ReportMetric(float64(xd)/(1<<20), "xdelta3-MiB")
	b.ReportMetric(float64(rs)/(1<<20), "rsync-MiB")
}

// BenchmarkThroughput exports and applies 1 GiB of changed data
// (VMREP_BENCH_CHANGED_MIB=4096 for 4 GiB) with everything in page cache.
// Apply alternates the deltas 1→2 and 2→1 so the replica needs no reset.
func BenchmarkThroughput(b *testing.B) {
	size := benchSize("VMREP_BENCH_CHANGED_MIB", 1<<30)
	dir := b.TempDir()
	base, target := pairFiles(b, dir, size, func(f *os.File) {
		fillMixed(b, f, rand.New(rand.NewSource(3)), 0, size)
	})
	e, s1, s2 := snapPair(b, base, target)
	ctx := context.Background()
	paths := []string{filepath.Join(dir, "12.vmdelta"), filepath.Join(dir, "21.vmdelta")}
	b.Run("export", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := build.Export(ctx, e.store, s1, s2, delta.FileSink(paths[0]), build.ExportOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Both deltas exist even when only the apply sub-benchmark runs.
	for i, p := range [][2]volume.Snapshot{{s1, s2}, {s2, s1}} {
		if _, err := build.Export(ctx, e.store, p[0], p[1], delta.FileSink(paths[i]), build.ExportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	rep := filepath.Join(dir, "replica")
	if _, err := CreateReplica(ctx, e.store, s1, rep, ReplicaOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Run("apply", func(b *testing.B) {
		b.SetBytes(size)
		i := 0
		cpu0 := cpuTime(b)
		defer func() { b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(max(i, 1))/1e6, "cpu-ms/op") }()
		for b.Loop() {
			rd, err := delta.Open(context.Background(), paths[i%2])
			if err == nil {
				_, err = Apply(ctx, rd, rep, ApplyOptions{})
			}
			if err != nil {
				b.Fatal(fmt.Errorf("apply %d: %w", i, err))
			}
			i++
		}
	})
}

// cpuTime is the CPU the process has used, user and system, in ns: on a
// shared machine it varies far less than wall time.
func cpuTime(tb testing.TB) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
