package replica

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// loopDevice attaches a sparse file of size bytes to a free loop device
// and returns the device path; it is detached when the test ends.
func loopDevice(t *testing.T, size int64) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "loop.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

func deviceSize(t *testing.T, dev string) int64 {
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBlockDeviceReplica: replica volumes that are symlinks to loop
// devices are created and moved forward in place; a shrinking delta never
// truncates the device, and a device too small for the target is refused
// before anything is written.
func TestBlockDeviceReplica(t *testing.T) {
	testdisk.Need(t, "losetup")
	testdisk.NeedRoot(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(7))
	e := newTestEnv(t)
	one := []image{{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot, data: make([]byte, 6<<20)}}
	rng.Read(one[0].data)
	two := []image{one[0]}
	two[0].data = bigChange(rng, one[0].data, 3<<20)[:5<<20+4096] // changed and shrunk
	s1, s2 := e.snapshot(one), e.snapshot(two)
	path := filepath.Join(e.dir, "12.vmdelta")
	if _, err := build.Export(ctx, e.store, s1, s2, delta.FileSink(path), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	const devSize = 16 << 20
	dev := loopDevice(t, devSize)
	rep := filepath.Join(e.dir, "replica")
	if err := os.MkdirAll(rep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dev, VolumePath(rep, one[0].id)); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateReplica(ctx, e.store, s1, rep, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	// A second replica at the same base whose device is too small.
	small := loopDevice(t, 4<<20)
	rep2 := filepath.Join(e.dir, "replica2")
	if err := os.MkdirAll(rep2, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(small, VolumePath(rep2, one[0].id)); err != nil {
		t.Fatal(err)
	}
	st, err := os.ReadFile(filepath.Join(rep, StateName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rep2, StateName), st, 0o644); err != nil {
		t.Fatal(err)
	}
	rd, err := delta.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, rd, rep2, ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "holds") {
		t.Fatalf("apply to a 4 MiB device: got %v, want a refusal", err)
	}
	if _, err := Apply(ctx, rd, rep, ApplyOptions{Verify: VerifyFull, Blobs: e.store}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(VolumePath(rep, one[0].id)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the volume is no longer a symlink to the device: %v", err)
	}
	if n := deviceSize(t, dev); n != devSize {
		t.Fatalf("device holds %d bytes after apply, want %d", n, devSize)
	}
	got := make([]byte, len(two[0].data))
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, two[0].data) {
		t.Fatalf("device differs from the target at %d", firstDiff(got, two[0].data))
	}
}
