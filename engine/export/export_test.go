package export_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/export"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// image makes a source image under dir and returns its path.
type image func(t *testing.T, dir string) string

func sparseImage(size int64, pieces map[int64][]byte) image {
	return func(t *testing.T, dir string) string {
		p := filepath.Join(dir, "src.img")
		writeSparse(t, p, size, pieces)
		return p
	}
}

// scattered puts pieces of random, text and zero bytes at unaligned offsets
// so chunks straddle clusters and some clusters assemble to zeros.
func scattered(seed uint64, size int64, n int) map[int64][]byte {
	rng := newRand(seed)
	pieces := map[int64][]byte{}
	for i := range n {
		off := rng.Int64N(size - 3<<20)
		b := testdisk.Content(rng, i%3, 1+rng.Int64N(2<<20))
		if i%4 == 3 {
			// Zeros inside a chunk: a candidate cluster that stays unallocated.
			clear(b[len(b)/4 : 3*len(b)/4])
		}
		pieces[off] = b
	}
	return pieces
}

func ext4Image(t *testing.T, dir string) string {
	testdisk.Need(t, "mkfs.ext4")
	tree := filepath.Join(dir, "tree")
	if _, err := testdisk.Tree(tree, testdisk.TreeSpec{Seed: 3, Files: 60, Bytes: 20 << 20}); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "ext4.img")
	if err := testdisk.Ext4(context.Background(), img, tree, 64); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestExportQcow2(t *testing.T) {
	testdisk.Need(t, "qemu-img")
	const tib = int64(1) << 40
	tests := []struct {
		name        string
		img         image
		clusterBits int
	}{
		{"empty", sparseImage(0, nil), 0},
		{"one byte", sparseImage(1, map[int64][]byte{0: {0x5a}}), 0},
		{"unaligned size", sparseImage(3<<20+12345, map[int64][]byte{0: testdisk.Content(newRand(1), 2, 3<<20+12345)}), 0},
		{"random", sparseImage(16<<20, map[int64][]byte{0: testdisk.Content(newRand(2), 0, 16<<20)}), 0},
		{"random 512-byte clusters", sparseImage(16<<20, map[int64][]byte{0: testdisk.Content(newRand(2), 0, 16<<20)}), 9},
		{"scattered", sparseImage(256<<20, scattered(4, 256<<20, 24)), 0},
		{"scattered 4 KiB clusters", sparseImage(256<<20+777, scattered(5, 256<<20, 24)), 12},
		{"scattered 2 MiB clusters", sparseImage(256<<20, scattered(6, 256<<20, 24)), 21},
		{"ext4", ext4Image, 0},
		{"1 TiB sparse", sparseImage(tib, map[int64][]byte{
			0:             testdisk.Content(newRand(7), 0, 1<<20),
			tib / 3:       testdisk.Content(newRand(8), 1, 2<<20),
			tib - 1<<20:   testdisk.Content(newRand(9), 2, 1<<20),
			tib/2 + 12345: testdisk.Content(newRand(10), 0, 100),
		}), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s, cut := openStore(t, filepath.Join(dir, "store"))
			src := tc.img(t, dir)
			m := ingestImage(t, s, cut, src)

			out := filepath.Join(dir, "out.qcow2")
			st, err := export.Volume(ctx, s, m, export.FormatQcow2, out, export.Options{ClusterBits: tc.clusterBits})
			if err != nil {
				t.Fatal(err)
			}
			raw := filepath.Join(dir, "out.raw")
			if _, err := restore.ToPath(ctx, s, m, raw, restore.Options{}); err != nil {
				t.Fatal(err)
			}
			if o, err := qemuImg(t, "check", "-f", "qcow2", out); err != nil || !strings.Contains(o, "No errors were found") {
				t.Fatalf("qemu-img check: %v\n%s", err, o)
			}
			if o, err := qemuImg(t, "compare", "-f", "qcow2", "-F", "raw", out, raw); err != nil {
				t.Fatalf("qemu-img compare with the raw restore: %v\n%s", err, o)
			}
			if o, err := qemuImg(t, "compare", "-f", "qcow2", "-F", "raw", out, src); err != nil {
				t.Fatalf("qemu-img compare with the source image: %v\n%s", err, o)
			}

			cs := int64(1) << 16
			if tc.clusterBits != 0 {
				cs = 1 << tc.clusterBits
			}
			want := nonZeroClusters(t, raw, cs)
			if st.DataClusters != want {
				t.Errorf("%d data clusters written, the volume has %d non-zero clusters", st.DataClusters, want)
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			meta := fi.Size() - want*cs
			if fi.Size() != st.FileSize || meta < cs || meta > 64*cs+m.Size/(cs*cs/8)*8+1<<20 {
				t.Errorf("image is %d bytes (stats say %d) for %d data clusters of %d bytes: %d bytes of metadata",
					fi.Size(), st.FileSize, want, cs, meta)
			}
			if st.Size != m.Size {
				t.Errorf("stats size %d, volume %d", st.Size, m.Size)
			}
			t.Logf("volume %d bytes, %d chunk bytes: image %d bytes, %d data clusters", m.Size, st.DataBytes, fi.Size(), st.DataClusters)
		})
	}
}

func TestExportRaw(t *testing.T) {
	testdisk.Need(t, "qemu-img")
	ctx := context.Background()
	dir := t.TempDir()
	s, cut := openStore(t, filepath.Join(dir, "store"))
	src := sparseImage(64<<20+3, scattered(11, 64<<20, 8))(t, dir)
	m := ingestImage(t, s, cut, src)
	out := filepath.Join(dir, "out.raw")
	if _, err := export.Volume(ctx, s, m, export.FormatRaw, out, export.Options{}); err != nil {
		t.Fatal(err)
	}
	if o, err := qemuImg(t, "compare", "-f", "raw", "-F", "raw", out, src); err != nil {
		t.Fatalf("qemu-img compare: %v\n%s", err, o)
	}
}

func TestExportErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "store")
	s, cut := openStore(t, storeDir)
	src := sparseImage(8<<20, map[int64][]byte{0: testdisk.Content(newRand(12), 0, 8<<20)})(t, dir)
	m := ingestImage(t, s, cut, src)

	missing := filepath.Join(dir, "no", "such", "dir", "out.qcow2")
	_, err := export.Volume(ctx, s, m, export.FormatQcow2, missing, export.Options{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("export under a missing directory: %v; want a not-exist error naming the path", err)
	}
	if _, err := export.Volume(ctx, s, m, "vmdk", filepath.Join(dir, "x.vmdk"), export.Options{}); !errors.Is(err, export.ErrFormat) {
		t.Errorf("export as vmdk: %v; want ErrFormat", err)
	}
	if _, err := export.Volume(ctx, s, m, export.FormatQcow2, filepath.Join(dir, "x.qcow2"), export.Options{ClusterBits: 30}); err == nil {
		t.Error("export with 1 GiB clusters succeeded")
	}

	page, err := m.LoadPage(ctx, s, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	victim := page.Entries[len(page.Entries)/2].ID
	loc, err := s.Lookup(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	testdisk.FlipByte(t, packPath(storeDir, loc), loc.Offset+int64(loc.Stored)/2)

	for _, f := range []export.Format{export.FormatQcow2, export.FormatRaw} {
		out := filepath.Join(dir, "corrupt."+string(f))
		_, err := export.Volume(ctx, s, m, f, out, export.Options{})
		var be *blob.Error
		if !errors.As(err, &be) || be.ID != victim || !errors.Is(err, blob.ErrCorrupt) {
			t.Errorf("%s export of a corrupt chunk: %v; want a corrupt-blob error naming %s", f, err, victim.Short())
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("a failed %s export left %s behind", f, out)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, ".corrupt*")); len(left) > 0 {
			t.Errorf("a failed %s export left temp files: %v", f, left)
		}
	}
}

func TestExportProgress(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, cut := openStore(t, filepath.Join(dir, "store"))
	src := sparseImage(32<<20, scattered(13, 32<<20, 6))(t, dir)
	m := ingestImage(t, s, cut, src)
	var calls int
	var last int64 = -1
	progress := func(done, total int64) {
		calls++
		if total != m.Size || done < last || done > total {
			t.Errorf("progress (%d, %d) after %d; volume is %d bytes", done, total, last, m.Size)
		}
		last = done
	}
	if _, err := export.Volume(ctx, s, m, export.FormatQcow2, filepath.Join(dir, "p.qcow2"), export.Options{Progress: progress, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last != m.Size {
		t.Errorf("%d progress calls ending at %d; want at least one ending at %d", calls, last, m.Size)
	}
}
