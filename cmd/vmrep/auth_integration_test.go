package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOtherUIDRefused runs the CLI as nobody. The socket is opened to all
// (a hidden test flag) so that the refusal comes from the peer-credential
// check, not from file permissions.
func TestOtherUIDRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child process as another uid")
	}
	d := newDaemon(t, "--socket-mode", "0666")
	if err := os.Chmod(filepath.Dir(d.socket), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "vmrep"), "--socket", d.socket, "vg", "list")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	r := runCLI(t, cmd)
	want := "vmrep: uid 65534 is not allowed to use this daemon\n"
	if r.code != 1 || r.stderr != want {
		t.Fatalf("as uid 65534: exit %d, stderr %q; want exit 1, %q", r.code, r.stderr, want)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(d.log.String(), "uid=65534") {
		if time.Now().After(deadline) {
			t.Fatalf("refusal not in the daemon log:\n%s", d.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(d.log.String(), "level=WARN") {
		t.Errorf("refusal not logged as a warning:\n%s", d.log)
	}
	// Root is still served.
	d.ok("vg", "list")
}

func TestSocketPermissions(t *testing.T) {
	d := newDaemon(t)
	fi, err := os.Stat(d.socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v, want socket 0660", fi.Mode())
	}
	di, _ := os.Stat(filepath.Dir(d.socket))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("socket directory mode %v, want 0700", di.Mode().Perm())
	}
	// A second daemon on the same store is refused and names the first.
	other := exec.Command(filepath.Join(binDir, "vmrepd"), "--store", d.store, "--socket", filepath.Join(d.dir, "other.sock"))
	r := runCLI(t, other)
	if r.code != 1 || !strings.Contains(r.stderr, "another vmrepd") || !strings.Contains(r.stderr, "pid") {
		t.Errorf("second daemon: exit %d, stderr %q", r.code, r.stderr)
	}
	d.ok("vg", "list")
}
