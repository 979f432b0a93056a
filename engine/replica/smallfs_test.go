package replica

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vmrep/vmrep/internal/testdisk"
)

// smallFS makes an ext4 file system of sizeMiB on a loop device, mounts it
// under the test's temp dir and returns the mount point; it is unmounted
// (and the loop device detached) when the test ends. No blocks are
// reserved for root, so a filler file can take every free block.
func smallFS(t *testing.T, sizeMiB int) string {
	t.Helper()
	testdisk.NeedRoot(t)
	testdisk.Need(t, "mkfs.ext4", "mount", "umount")
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "mkfs.ext4", "-q", "-F", "-m", "0", img, fmt.Sprintf("%dM", sizeMiB))
	run(t, "mount", "-o", "loop", img, mnt)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// freeBytes is what an unprivileged writer could still put in dir's file
// system (root may use no more, as smallFS reserves nothing).
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fillTo writes a filler file in dir so that about leave bytes stay free,
// and returns its path; removing it gives the space back.
func fillTo(t *testing.T, dir string, leave int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Asking for every free block fails (the extent tree needs some), so
	// back off until the file system takes it.
	for n := freeBytes(t, dir) - leave; n > 0; n -= 64 << 10 {
		err := unix.Fallocate(int(f.Fd()), 0, 0, n)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.ENOSPC) {
			t.Fatalf("fill %s: %v", dir, err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return path
}

// leftovers lists the names in dir other than the filler, lost+found and
// keep: what a failed command left behind.
func leftovers(t *testing.T, dir string, keep ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); n != "filler" && n != "lost+found" && !slices.Contains(keep, n) {
			out = append(out, n)
		}
	}
	return out
}

// remount remounts mnt read-only or read-write.
func remount(t *testing.T, mnt string, ro bool) {
	t.Helper()
	mode := "remount,rw"
	if ro {
		mode = "remount,ro"
	}
	run(t, "mount", "-o", mode, mnt)
}
