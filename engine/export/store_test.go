package export_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }

// openStore makes a real store in dir.
func openStore(t testing.TB, dir string) (*cas.Store, *chunker.Cutter) {
	t.Helper()
	ctx := context.Background()
	if err := cas.Init(ctx, dir, cas.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	s, err := cas.Open(ctx, dir, cas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cut, err := ingest.NewCutter(s.Config().Chunker)
	if err != nil {
		t.Fatal(err)
	}
	return s, cut
}

// ingestImage snapshots the image at img into s and returns its manifest.
func ingestImage(t testing.TB, s *cas.Store, cut *chunker.Cutter, img string) *volume.Manifest {
	t.Helper()
	ctx := context.Background()
	src, err := source.Open(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st, err := ingest.Volume(ctx, s, src, ingest.Options{Cutter: cut})
	if err != nil {
		t.Fatalf("ingest %s: %v", img, err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := volume.LoadManifest(ctx, s, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// writeSparse makes a sparse file of size bytes holding pieces at offsets.
func writeSparse(t testing.TB, path string, size int64, pieces map[int64][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, b := range pieces {
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// nonZeroClusters counts the clusters of a sparse raw file holding a
// non-zero byte, reading only its data extents so a 1 TiB file is quick.
func nonZeroClusters(t testing.TB, path string, cs int64) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	size := fi.Size()
	buf := make([]byte, cs)
	var n int64
	last := int64(-1)
	for off := int64(0); off < size; {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if err != nil { // ENXIO: no data past off
			break
		}
		hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			t.Fatal(err)
		}
		for c := data / cs; c*cs < hole; c++ {
			if c == last {
				continue
			}
			k, err := f.ReadAt(buf, c*cs)
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			for _, b := range buf[:k] {
				if b != 0 {
					n++
					break
				}
			}
			last = c
		}
		off = hole
	}
	return n
}

// qemuImg runs qemu-img and returns its combined output.
func qemuImg(t testing.TB, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func packPath(dir string, loc cas.Location) string {
	return filepath.Join(dir, "packs", loc.Pack[:2], loc.Pack+".pack")
}
