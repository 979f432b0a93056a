package ingest_test

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/testdisk"
)

func run(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
}

// ext4Image makes a 64 MiB ext4 image of a generated tree.
func ext4Image(t testing.TB, dir, name string, seed uint64) string {
	t.Helper()
	tree := filepath.Join(dir, name+".tree")
	if _, err := testdisk.Tree(tree, testdisk.TreeSpec{Seed: seed, Files: 40, Bytes: 20 << 20}); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, name+".raw")
	if err := testdisk.Ext4(context.Background(), img, tree, 64); err != nil {
		t.Fatal(err)
	}
	return img
}

func ingestFile(t testing.TB, r *repo, path string) ingest.Stats {
	t.Helper()
	src, err := source.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st, err := ingest.Volume(context.Background(), r.store, src, ingest.Options{Cutter: r.cut})
	if err != nil {
		t.Fatalf("ingest %s: %v", filepath.Base(path), err)
	}
	return st
}

// Every image format qemu-img writes, from the same ext4 image, ingests to
// the manifest of the raw image itself.
func TestImageFormatsIngestLikeRaw(t *testing.T) {
	testdisk.Need(t, "qemu-img", "mkfs.ext4")
	dir := t.TempDir()
	r := newRepo(t, filepath.Join(dir, "repo"))
	raw := ext4Image(t, dir, "v2", 1)
	older := ext4Image(t, dir, "v1", 2)
	base := filepath.Join(dir, "base.qcow2")
	run(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", older, base)

	convert := func(name string, args ...string) string {
		out := filepath.Join(dir, name)
		run(t, append(append([]string{"qemu-img", "convert", "-f", "raw"}, args...), raw, out)...)
		return out
	}
	images := map[string]string{
		"qcow2":                 convert("plain.qcow2", "-O", "qcow2"),
		"qcow2 compressed":      convert("compressed.qcow2", "-O", "qcow2", "-c"),
		"qcow2 backing file":    convert("overlay.qcow2", "-O", "qcow2", "-B", base, "-F", "qcow2"),
		"vmdk monolithicSparse": convert("sparse.vmdk", "-O", "vmdk", "-o", "subformat=monolithicSparse"),
		"vmdk streamOptimized":  convert("stream.vmdk", "-O", "vmdk", "-o", "subformat=streamOptimized"),
		"vhdx dynamic":          convert("dynamic.vhdx", "-O", "vhdx", "-o", "subformat=dynamic"),
		"vhdx fixed":            convert("fixed.vhdx", "-O", "vhdx", "-o", "subformat=fixed"),
	}
	want := ingestFile(t, r, raw)
	for name, img := range images {
		t.Run(name, func(t *testing.T) {
			got := ingestFile(t, r, img)
			if got.ID != want.ID {
				t.Errorf("%s: manifest %s, raw image %s", name, got.ID.Short(), want.ID.Short())
			}
			if got.NewBytes != 0 {
				t.Errorf("%s: stored %d new bytes, the raw image had them all", name, got.NewBytes)
			}
		})
	}
}

// dropCache syncs path and drops its pages from the page cache. mkfs.ext4
// leaves unwritten extents in the image (the journal), and SEEK_DATA counts
// an unwritten extent as data only while its pages are cached: without
// this, how many bytes a snapshot reads depends on what the kernel kept.
func dropCache(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// snapshotStats snapshots vg with hints and returns the first volume's stats.
func snapshotStats(t *testing.T, r *repo, vg volume.VG, full bool) (volume.Snapshot, ingest.Stats) {
	t.Helper()
	ctx := context.Background()
	for _, v := range vg.Volumes {
		dropCache(t, v.Source)
	}
	open := func(ctx context.Context, v volume.Volume) (source.Reader, error) { return source.Open(ctx, v.Source) }
	w := r.store.NewWriter()
	defer w.Close()
	snap, st, err := ingest.Snapshot(ctx, w, r.cat, vg, open, ingest.SnapshotOptions{
		Options: ingest.Options{Cutter: r.cut}, Pages: r.store, Full: full})
	if err != nil {
		t.Fatal(err)
	}
	return snap, st[0]
}

func age(t *testing.T, path string) {
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

// A raw file untouched since the last snapshot is not read again; --full
// reads it; a changed one is read and gives the full manifest.
func TestHintUnchangedRaw(t *testing.T) {
	testdisk.Need(t, "mkfs.ext4", "debugfs")
	dir := t.TempDir()
	r := newRepo(t, filepath.Join(dir, "repo"))
	img := ext4Image(t, dir, "disk", 3)
	age(t, img)
	vg := r.createVG(t, "web", volume.Volume{Name: "root", Role: volume.RoleBoot, Source: img})
	s1, st1 := snapshotStats(t, r, vg, false)
	if st1.ReadBytes == 0 {
		t.Fatal("first snapshot read nothing")
	}
	s2, st2 := snapshotStats(t, r, vg, false)
	if st2.ReadBytes != 0 || s2.Volumes[0].Manifest != s1.Volumes[0].Manifest {
		t.Errorf("unchanged: read %d bytes, manifest %s want %s", st2.ReadBytes, s2.Volumes[0].Manifest.Short(), s1.Volumes[0].Manifest.Short())
	}
	_, st3 := snapshotStats(t, r, vg, true)
	if st3.ReadBytes != st1.ReadBytes {
		t.Errorf("--full read %d bytes, first snapshot %d", st3.ReadBytes, st1.ReadBytes)
	}
	if err := testdisk.Debugfs(context.Background(), img, "rm d00/s0/f00000.bin"); err != nil {
		t.Fatal(err)
	}
	s4, _ := snapshotStats(t, r, vg, false)
	fresh := newRepo(t, filepath.Join(dir, "fresh"))
	if want := ingestFile(t, fresh, img); s4.Volumes[0].Manifest != want.ID {
		t.Errorf("changed file: manifest %s, full ingest %s", s4.Volumes[0].Manifest.Short(), want.ID.Short())
	}
}

// A qcow2 overlay whose backing file is the image the last snapshot read:
// only the top layer's clusters are read, and the manifest is the one a full
// read makes. The volume is four data regions apart, as partitions are, so
// the regions the overlay leaves alone are reused whole.
func TestHintQcow2Overlay(t *testing.T) {
	testdisk.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	r := newRepo(t, filepath.Join(dir, "repo"))
	v1 := filepath.Join(dir, "v1.raw")
	f, err := os.Create(v1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range int64(4) {
		if _, err := f.WriteAt(testdisk.Content(rng, int(i%3), 8<<20), i*12<<20); err != nil {
			t.Fatal(err)
		}
	}
	f.Truncate(48 << 20)
	f.Close()
	disk := filepath.Join(dir, "disk.qcow2")
	run(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", v1, disk)
	age(t, disk)
	vg := r.createVG(t, "web", volume.Volume{Name: "root", Role: volume.RoleBoot, Source: disk})
	_, st1 := snapshotStats(t, r, vg, false)

	// The hypervisor's external snapshot: the image becomes the backing
	// file of a new overlay at the volume's path, which takes the writes.
	frozen := filepath.Join(dir, "disk-1.qcow2")
	if err := os.Rename(disk, frozen); err != nil {
		t.Fatal(err)
	}
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", frozen, "-F", "qcow2", disk)
	run(t, "qemu-io", "-c", "write -P 0x5a 13M 100k", "-c", "write -z 40M 64k", disk)
	s2, st2 := snapshotStats(t, r, vg, false)
	v2 := filepath.Join(dir, "v2.raw")
	run(t, "qemu-img", "convert", "-O", "raw", disk, v2)
	want := ingestFile(t, r, v2)
	if s2.Volumes[0].Manifest != want.ID {
		t.Fatalf("overlay: manifest %s, full ingest %s", s2.Volumes[0].Manifest.Short(), want.ID.Short())
	}
	if st2.ReadBytes > st1.ReadBytes/2 {
		t.Errorf("overlay: read %d bytes, the first snapshot %d: hint not used", st2.ReadBytes, st1.ReadBytes)
	}
	t.Logf("overlay read %d of %d bytes, reused %d", st2.ReadBytes, st1.ReadBytes, st2.CopiedBytes)

	// The same over an ext4 image changed by debugfs: dense, so little is
	// reused, but the manifest must still be the full one.
	e1 := ext4Image(t, dir, "e1", 5)
	ext := filepath.Join(dir, "ext.qcow2")
	run(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", e1, ext)
	age(t, ext)
	vg2 := r.createVG(t, "db", volume.Volume{Name: "root", Role: volume.RoleBoot, Source: ext})
	snapshotStats(t, r, vg2, false)
	extFrozen := filepath.Join(dir, "ext-1.qcow2")
	if err := os.Rename(ext, extFrozen); err != nil {
		t.Fatal(err)
	}
	e2 := filepath.Join(dir, "e2.raw")
	copySparse(t, e1, e2)
	if err := testdisk.Debugfs(context.Background(), e2, "rm d01/s1/f00001.txt", "mkdir newdir"); err != nil {
		t.Fatal(err)
	}
	run(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-B", extFrozen, "-F", "qcow2", e2, ext)
	s3, _ := snapshotStats(t, r, vg2, false)
	if want := ingestFile(t, r, e2); s3.Volumes[0].Manifest != want.ID {
		t.Fatalf("ext4 overlay: manifest %s, full ingest %s", s3.Volumes[0].Manifest.Short(), want.ID.Short())
	}
}

// discardWriter stores nothing, so the benchmark measures the source and
// the pipeline, not the store's disk.
type discardWriter struct{}

func (discardWriter) Put(context.Context, blob.Type, blob.ID, []byte) (bool, error) {
	return true, nil
}
func (discardWriter) Flush(context.Context) error { return nil }

// BenchmarkIngestQcow2VsRaw ingests the same 256 MiB volume as a raw file and
// as a qcow2 image, in the same run.
func BenchmarkIngestQcow2VsRaw(b *testing.B) {
	testdisk.Need(b, "qemu-img")
	dir := b.TempDir()
	const size = 256 << 20
	raw := filepath.Join(dir, "vol.raw")
	f, err := os.Create(raw)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for off := int64(0); off < size; off += 16 << 20 {
		// Three quarters data, a quarter left as a hole.
		if _, err := f.WriteAt(testdisk.Content(rng, int(off>>20)%3, 12<<20), off); err != nil {
			b.Fatal(err)
		}
	}
	f.Truncate(size)
	f.Close()
	qcow := filepath.Join(dir, "vol.qcow2")
	run(b, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow)
	r := newRepo(b, filepath.Join(dir, "repo"))
	for _, img := range []struct{ name, path string }{{"raw", raw}, {"qcow2", qcow}} {
		b.Run(img.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				src, err := source.Open(context.Background(), img.path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ingest.Volume(context.Background(), discardWriter{}, src, ingest.Options{Cutter: r.cut}); err != nil {
					b.Fatal(err)
				}
				src.Close()
			}
		})
	}
}
