package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func dirMode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode() & (os.ModePerm | os.ModeSticky)
}

// TestListenLeavesExistingDir: a socket in a shared sticky directory such
// as /tmp is fine, and the directory keeps its mode after the listener
// opens and closes.
func TestListenLeavesExistingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	for _, group := range []int{-1, os.Getgid()} {
		ln, err := Listen(filepath.Join(dir, "d.sock"), ListenConfig{Mode: 0o660, Group: group})
		if err != nil {
			t.Fatalf("group %d: %v", group, err)
		}
		if m := dirMode(t, dir); m != 0o777|os.ModeSticky {
			t.Fatalf("group %d: directory mode %v while listening, want drwxrwxrwt", group, m)
		}
		fi, err := os.Stat(filepath.Join(dir, "d.sock"))
		if err != nil || fi.Mode().Perm() != 0o660 {
			t.Fatalf("group %d: socket %v (%v), want mode 0660", group, fi, err)
		}
		ln.Close()
		if m := dirMode(t, dir); m != 0o777|os.ModeSticky {
			t.Fatalf("group %d: directory mode %v after close, want drwxrwxrwt", group, m)
		}
	}
}

// TestListenRefusesWorldWritableDir: without the sticky bit anyone could
// swap the socket, so nothing is created there.
func TestListenRefusesWorldWritableDir(t *testing.T) {
	for _, sub := range []string{"", "run"} { // the socket's directory, or where it would be created
		dir := filepath.Join(t.TempDir(), "open")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		_, err := Listen(filepath.Join(dir, sub, "d.sock"), ListenConfig{Mode: 0o660, Group: -1})
		if err == nil || !strings.Contains(err.Error(), "writable by everyone and not sticky") {
			t.Fatalf("socket under a 0777 directory (sub %q): %v, want a refusal", sub, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("refused Listen left %v in %s", ents, dir)
		}
		if m := dirMode(t, dir); m != 0o777 {
			t.Fatalf("refused Listen changed the directory's mode to %v", m)
		}
	}
}

// TestListenCreatesDir: a missing directory is the daemon's own, 0700, or
// 0750 and the group's when members are served.
func TestListenCreatesDir(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	for _, tc := range []struct {
		group int
		mode  os.FileMode
	}{{-1, 0o700}, {os.Getgid(), 0o750}} {
		dir := filepath.Join(t.TempDir(), "run", "vmrep")
		ln, err := Listen(filepath.Join(dir, "d.sock"), ListenConfig{Mode: 0o660, Group: tc.group})
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if m := dirMode(t, d); m != tc.mode {
				t.Errorf("group %d: created directory %s has mode %v, want %v", tc.group, d, m, tc.mode)
			}
		}
	}
}
