package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// repo is an open store with its catalog, as the daemon holds them.
type repo struct {
	dir   string
	store *cas.Store
	cat   *volume.Catalog
	cut   *chunker.Cutter
}

func newRepo(t testing.TB, dir string) *repo {
	t.Helper()
	return newRepoWith(t, dir, cas.DefaultConfig())
}

func newRepoWith(t testing.TB, dir string, cfg cas.Config) *repo {
	t.Helper()
	ctx := context.Background()
	if _, err := os.Stat(filepath.Join(dir, "config")); os.IsNotExist(err) {
		if err := cas.Init(ctx, dir, cfg); err != nil {
			t.Fatal(err)
		}
	}
	return openRepo(t, dir)
}

func openRepo(t testing.TB, dir string) *repo {
	t.Helper()
	s, err := cas.Open(context.Background(), dir, cas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cut, err := ingest.NewCutter(s.Config().Chunker)
	if err != nil {
		t.Fatal(err)
	}
	return &repo{dir: dir, store: s, cat: volume.NewCatalog(s), cut: cut}
}

func (r *repo) createVG(t testing.TB, name string, vols ...volume.Volume) volume.VG {
	t.Helper()
	vg, err := r.cat.CreateVG(context.Background(), volume.VG{Name: name, Volumes: vols})
	if err != nil {
		t.Fatal(err)
	}
	return vg
}

func (r *repo) snapshot(ctx context.Context, vg volume.VG) (volume.Snapshot, error) {
	open := func(ctx context.Context, v volume.Volume) (source.Reader, error) { return source.Open(ctx, v.Source) }
	return r.snapshotFrom(ctx, vg, open)
}

func (r *repo) snapshotFrom(ctx context.Context, vg volume.VG, open ingest.Opener) (volume.Snapshot, error) {
	w := r.store.NewWriter()
	defer w.Close()
	snap, _, err := ingest.Snapshot(ctx, w, r.cat, vg, open, ingest.SnapshotOptions{Options: ingest.Options{Cutter: r.cut}})
	return snap, err
}

func (r *repo) restore(t testing.TB, snap volume.Snapshot, vol, out string) error {
	t.Helper()
	vs, ok := snap.Volume(vol)
	if !ok {
		t.Fatalf("snapshot %d has no volume %q", snap.Seq, vol)
	}
	m, err := volume.LoadManifest(context.Background(), r.store, vs.Manifest)
	if err != nil {
		return err
	}
	_, err = restore.ToPath(context.Background(), r.store, m, out, restore.Options{})
	return err
}

func storedBytes(t testing.TB, s *cas.Store) int64 {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.StoredBytes
}

func cmpFiles(t testing.TB, a, b string) {
	t.Helper()
	if out, err := exec.Command("cmp", a, b).CombinedOutput(); err != nil {
		t.Fatalf("cmp %s %s: %v: %s", filepath.Base(a), filepath.Base(b), err, out)
	}
}

func copySparse(t testing.TB, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "--sparse=always", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
}

func verifyClean(t testing.TB, r *repo, readData bool) {
	t.Helper()
	ctx := context.Background()
	rep, err := r.store.Verify(ctx, cas.VerifyOptions{ReadData: readData})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		t.Errorf("verify: %s", p)
	}
	probs, err := volume.CheckSnapshots(ctx, r.cat, r.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Errorf("check: %v", p)
	}
}

// A VG of three ext4 volumes, three snapshots with files changed in between:
// every volume of every snapshot restores bit for bit, and the store grows
// by the changes only, with the identical data volume stored once.
func TestExt4VolumeGroupSnapshots(t *testing.T) {
	testdisk.Need(t, "mkfs.ext4", "debugfs", "cmp")
	ctx := context.Background()
	work := t.TempDir()
	tree := filepath.Join(work, "tree")
	if _, err := testdisk.Tree(tree, testdisk.TreeSpec{Seed: 1, Files: 300, Bytes: 40 << 20}); err != nil {
		t.Fatal(err)
	}
	img := func(n string) string { return filepath.Join(work, n+".img") }
	for _, n := range []string{"boot", "db", "logs"} {
		if err := testdisk.Ext4(ctx, img(n), tree, 96); err != nil {
			t.Fatal(err)
		}
	}
	r := newRepo(t, filepath.Join(work, "store"))
	vg := r.createVG(t, "web",
		volume.Volume{Name: "boot", Role: volume.RoleBoot, Source: img("boot")},
		volume.Volume{Name: "db", Role: volume.RoleData, Source: img("db")},
		volume.Volume{Name: "logs", Role: volume.RoleData, Source: img("logs")})

	var snaps []volume.Snapshot
	var sizes []int64
	for i := range 3 {
		if i > 0 {
			// Change files inside two of the images, as the VM would.
			local := filepath.Join(work, fmt.Sprintf("new%d.bin", i))
			if err := os.WriteFile(local, []byte(strings.Repeat(fmt.Sprintf("edit %d\n", i), 200000)), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := testdisk.Debugfs(ctx, img("db"), fmt.Sprintf("write %s new%d.bin", local, i), "rm d01/s1/f00001.txt"); err != nil {
				t.Fatal(err)
			}
			if err := testdisk.Debugfs(ctx, img("logs"), fmt.Sprintf("write %s log%d.bin", local, i)); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range []string{"boot", "db", "logs"} {
			copySparse(t, img(n), img(fmt.Sprintf("%s-%d", n, i+1)))
		}
		snap, err := r.snapshot(ctx, vg)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, snap)
		sizes = append(sizes, storedBytes(t, r.store))
	}

	boot := snaps[0].Volumes[0]
	t.Logf("volume of %d MiB with %d MiB of data; store after each snapshot: %d, %d, %d KiB",
		boot.Size>>20, boot.DataBytes>>20, sizes[0]>>10, sizes[1]>>10, sizes[2]>>10)
	// Three identical volumes cost one.
	if sizes[0] > boot.DataBytes*11/10 {
		t.Errorf("first snapshot stored %d bytes for three copies of %d data bytes", sizes[0], boot.DataBytes)
	}
	for i := 1; i < 3; i++ {
		if grow := sizes[i] - sizes[i-1]; grow > 4<<20 {
			t.Errorf("snapshot %d grew the store by %d bytes for a few MiB of changed files", i+1, grow)
		}
	}
	for i, snap := range snaps {
		if snap.Seq != uint64(i+1) {
			t.Errorf("snapshot %d has seq %d", i+1, snap.Seq)
		}
		for _, n := range []string{"boot", "db", "logs"} {
			out := filepath.Join(work, fmt.Sprintf("restored-%s-%d.img", n, i+1))
			if err := r.restore(t, snap, n, out); err != nil {
				t.Fatal(err)
			}
			cmpFiles(t, img(fmt.Sprintf("%s-%d", n, i+1)), out)
			os.Remove(out)
		}
	}
	verifyClean(t, r, true)
}

// A 4 GiB sparse image with 8 MiB of data costs about 8 MiB and little CPU,
// and restores sparse.
func TestSparseImage(t *testing.T) {
	testdisk.Need(t, "cmp")
	work := t.TempDir()
	img := filepath.Join(work, "sparse.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	const size = 4 << 30
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := newRand(1)
	for i := range int64(8) {
		chunk := testdisk.Content(rng, 0, 1<<20)
		if _, err := f.WriteAt(chunk, i*(size/8)+12345*i); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	r := newRepo(t, filepath.Join(work, "store"))
	vg := r.createVG(t, "sparse", volume.Volume{Name: "boot", Role: volume.RoleBoot, Source: img})
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	snap, err := r.snapshot(context.Background(), vg)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	stored := storedBytes(t, r.store)
	t.Logf("4 GiB sparse image, 8 MiB data: ingest %v wall, %v CPU (%.3f s CPU per GiB), store %d KiB",
		elapsed, cpu, cpu.Seconds()/4, stored>>10)
	if stored < 8<<20 || stored > 9<<20 {
		t.Errorf("store holds %d bytes for 8 MiB of random data", stored)
	}

	out := filepath.Join(work, "restored.img")
	if err := r.restore(t, snap, "boot", out); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(out, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size || st.Blocks*512 > 12<<20 {
		t.Errorf("restored file: size %d, %d bytes allocated; want %d, about 8 MiB", st.Size, st.Blocks*512, size)
	}
	du, _ := exec.Command("du", "-h", out).Output()
	t.Logf("du of the restored image: %s", strings.TrimSpace(string(du)))
	cmpSparse(t, img, out)
}

// A flipped byte in a pack: Verify names the chunk, restore fails with that
// error and never writes the wrong bytes.
func TestCorruptPack(t *testing.T) {
	work := t.TempDir()
	img := filepath.Join(work, "disk.img")
	if err := os.WriteFile(img, testdisk.Content(newRand(2), 0, 6<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(work, "store")
	r := newRepo(t, dir)
	vg := r.createVG(t, "vm", volume.Volume{Name: "boot", Role: volume.RoleBoot, Source: img})
	snap, err := r.snapshot(context.Background(), vg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := volume.LoadManifest(context.Background(), r.store, snap.Volumes[0].Manifest)
	if err != nil {
		t.Fatal(err)
	}
	page, err := m.LoadPage(context.Background(), r.store, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	victim := page.Entries[len(page.Entries)/2].ID
	loc, err := r.store.Lookup(context.Background(), victim)
	if err != nil {
		t.Fatal(err)
	}
	r.store.Close()
	testdisk.FlipByte(t, filepath.Join(dir, "packs", loc.Pack[:2], loc.Pack+".pack"), loc.Offset+int64(loc.Stored)/2)

	r = openRepo(t, dir)
	rep, err := r.store.Verify(context.Background(), cas.VerifyOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].ID != victim {
		t.Fatalf("verify found %v, want one problem naming chunk %s", rep.Problems, victim)
	}
	if !strings.Contains(rep.Problems[0].String(), victim.String()) {
		t.Errorf("problem %q does not name the chunk", rep.Problems[0])
	}
	out := filepath.Join(work, "restored.img")
	err = r.restore(t, snap, "boot", out)
	var be *blob.Error
	if !errors.As(err, &be) || be.ID != victim || !errors.Is(err, blob.ErrCorrupt) {
		t.Fatalf("restore error %v, want a corrupt-blob error naming %s", err, victim.Short())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a failed restore left %s behind", out)
	}
	if left, _ := filepath.Glob(filepath.Join(work, ".restored.img*")); len(left) > 0 {
		t.Fatalf("a failed restore left temp files: %v", left)
	}
}

// cmpSparse compares two files that are mostly holes, reading only the
// ranges either of them has allocated.
func cmpSparse(t testing.TB, a, b string) {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	sa, _ := fa.Stat()
	sb, _ := fb.Stat()
	if sa.Size() != sb.Size() {
		t.Fatalf("%s has %d bytes, %s %d", a, sa.Size(), b, sb.Size())
	}
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for _, f := range []*os.File{fa, fb} {
		for off := int64(0); off < sa.Size(); {
			data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
			if err != nil {
				break
			}
			hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
			if err != nil {
				t.Fatal(err)
			}
			for p := data; p < hole; p += int64(len(ba)) {
				n := min(int64(len(ba)), hole-p)
				if _, err := fa.ReadAt(ba[:n], p); err != nil {
					t.Fatal(err)
				}
				if _, err := fb.ReadAt(bb[:n], p); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(ba[:n], bb[:n]) {
					t.Fatalf("%s and %s differ in [%d, %d)", a, b, p, p+n)
				}
			}
			off = hole
		}
	}
}
