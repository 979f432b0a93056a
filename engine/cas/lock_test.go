package cas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLockStoreReportsPIDWriteFailure fills a one-page tmpfs so that the
// lock file can be created but not written: the store must not open with
// a lock file that names no pid (a second daemon would then say pid 0).
func TestLockStoreReportsPIDWriteFailure(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=4k"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	fill, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	page := make([]byte, 4096)
	for {
		if _, err := fill.Write(page); err != nil {
			break
		}
	}
	fill.Close()
	f, err := lockStore(dir)
	if err == nil {
		f.Close()
		t.Fatal("lockStore on a full file system succeeded; the pid write failure was ignored")
	}
	if !strings.Contains(err.Error(), "writing pid") {
		t.Fatalf("lockStore error %q does not say the pid could not be written", err)
	}
}
