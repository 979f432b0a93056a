package restore

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/cas/castest"
)

// TestToPathRemovesStaleTemps: a restore killed mid-way leaves its
// temporary file beside the target; the next restore into that path
// removes it, and keeps the one a live process is still writing. (Before,
// every killed replica create left a volume-sized hidden file behind for
// good: the kill suite found them in replica directories.)
func TestToPathRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vol.img")
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Process.Kill(); live.Wait() })
	stale := filepath.Join(dir, tmpPrefix(path, dead.Process.Pid)+"123")
	busy := filepath.Join(dir, tmpPrefix(path, live.Process.Pid)+"456")
	other := filepath.Join(dir, tmpPrefix(filepath.Join(dir, "other.img"), dead.Process.Pid)+"789")
	for _, p := range []string{stale, busy, other} {
		if err := os.WriteFile(p, []byte("half a volume"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := castest.NewMemStore()
	data := sample()
	if _, err := ToPath(context.Background(), s, volumeOf(t, s, data), path, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the temporary file of a dead restore (pid %d) is still there: %v", dead.Process.Pid, err)
	}
	for _, p := range []string{busy, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v (a live restore's, or another path's, temporary file was removed)", filepath.Base(p), err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d entries in %s after the restore, want 3: the volume and the two temporary files kept", len(entries), dir)
	}
}
