package restore

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas/castest"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// volumeOf stores data as 64 KiB chunks with every all-zero chunk a hole,
// and returns its manifest: enough of an ingest for restore to work on.
func volumeOf(t *testing.T, s *castest.MemStore, data []byte) *volume.Manifest {
	t.Helper()
	ctx := context.Background()
	w := volume.NewManifestWriter(s)
	for off := 0; off < len(data); off += 64 << 10 {
		c := data[off:min(off+64<<10, len(data))]
		if bytes.Count(c, []byte{0}) == len(c) {
			w.Add(ctx, volume.Entry{Hole: true, Length: int64(len(c))})
			continue
		}
		id := blob.Sum(c)
		s.Put(ctx, blob.Chunk, id, c)
		if err := w.Add(ctx, volume.Entry{ID: id, Length: int64(len(c))}); err != nil {
			t.Fatal(err)
		}
	}
	info, err := w.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := volume.LoadManifest(ctx, s, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sample is 8 MiB: data, a 3 MiB hole, data, a hole, and an odd tail.
func sample() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 8<<20+777)
	for _, r := range [][2]int{{0, 2 << 20}, {5 << 20, 6 << 20}, {7<<20 + 4096, 8<<20 + 777}} {
		for i := r[0]; i < r[1]; i++ {
			b[i] = byte(rng.Uint32())
		}
	}
	return b
}

// Restoring over an existing file of garbage punches the holes instead of
// writing zeros, so the file ends up sparse and equal to the volume.
func TestRestoreOverExistingFilePunchesHoles(t *testing.T) {
	data := sample()
	s := castest.NewMemStore()
	m := volumeOf(t, s, data)
	path := filepath.Join(t.TempDir(), "vol.img")
	garbage := bytes.Repeat([]byte{0xa5}, len(data))
	if err := os.WriteFile(path, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := NewFileTarget(f, false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Volume(context.Background(), s, m, tg, Options{Workers: 3})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, data) {
		t.Fatal("restored file differs from the volume")
	}
	var fi syscall.Stat_t
	syscall.Stat(path, &fi)
	if alloc := fi.Blocks * 512; alloc > st.DataBytes+1<<20 {
		t.Errorf("%d bytes allocated for %d bytes of data: holes were written, not punched", alloc, st.DataBytes)
	}
}

func TestRestoreRefusesSmallTarget(t *testing.T) {
	data := sample()
	s := castest.NewMemStore()
	m := volumeOf(t, s, data)
	path := filepath.Join(t.TempDir(), "small.img")
	os.WriteFile(path, make([]byte, 4096), 0o644)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	defer f.Close()
	tg, _ := NewFileTarget(f, false)
	if _, err := Volume(context.Background(), s, m, tg, Options{}); err == nil || !strings.Contains(err.Error(), "needs") {
		t.Fatalf("restore into a 4 KiB file: %v", err)
	}
}

// A block device is written in place: holes are zeroed, and bytes past the
// volume's end are left alone.
func TestRestoreToBlockDevice(t *testing.T) {
	testdisk.NeedRoot(t)
	testdisk.Need(t, "losetup")
	data := sample()
	s := castest.NewMemStore()
	m := volumeOf(t, s, data)
	backing := filepath.Join(t.TempDir(), "dev.img")
	devSize := 12 << 20
	if err := os.WriteFile(backing, bytes.Repeat([]byte{0x5a}, devSize), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", backing).Output()
	if err != nil {
		t.Skipf("no loop device: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })

	if _, err := ToPath(context.Background(), s, m, dev, Options{}); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, devSize)
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(data)], data) {
		t.Fatal("device does not hold the volume")
	}
	if !bytes.Equal(got[len(data):], bytes.Repeat([]byte{0x5a}, devSize-len(data))) {
		t.Fatal("restore wrote past the volume's end")
	}
}
