package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// vmrepdMustExit runs vmrepd and returns how it ended; one still running
// after 30 s is stopped and fails the test, since every call here expects
// a refusal.
func vmrepdMustExit(t *testing.T, cred *syscall.Credential, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "vmrepd"), args...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		r := result{stdout: out.String(), stderr: errb.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.code = ee.ExitCode()
		}
		return r
	case <-time.After(30 * time.Second):
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
		t.Fatalf("vmrepd %s kept running; want a refusal\n%s", strings.Join(args, " "), errb.String())
		return result{}
	}
}

func modeOf(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode() & (os.ModePerm | os.ModeSticky)
}

// TestSocketSharedDirUnchanged: a socket in a sticky shared directory, as
// /tmp is, leaves the directory's mode as it was, running and stopped.
func TestSocketSharedDirUnchanged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tmp")
	os.Mkdir(dir, 0o700)
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{nil, {"--allow-group", strconv.Itoa(memberGID)}} {
		d := &testDaemon{t: t, bin: filepath.Join(binDir, "vmrepd"), dir: t.TempDir(), socket: filepath.Join(dir, "vmrepd.sock"), extra: extra}
		d.store = filepath.Join(d.dir, "store")
		d.start()
		if m := modeOf(t, dir); m != 0o777|os.ModeSticky {
			t.Errorf("%v: shared directory is %v while vmrepd runs, want drwxrwxrwt", extra, m)
		}
		if m := modeOf(t, d.socket); m != 0o660 {
			t.Errorf("%v: socket mode %v, want 0660", extra, m)
		}
		d.stop()
		if m := modeOf(t, dir); m != 0o777|os.ModeSticky {
			t.Errorf("%v: shared directory is %v after vmrepd stopped, want drwxrwxrwt", extra, m)
		}
	}
}

// TestSocketWorldWritableDirRefused: anyone could replace a socket in a
// directory everyone may write without the sticky bit.
func TestSocketWorldWritableDirRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	os.Mkdir(dir, 0o700)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(t.TempDir(), "store")
	r := vmrepdMustExit(t, nil, "--store", store, "--socket", filepath.Join(dir, "vmrepd.sock"))
	if r.code != 1 || !strings.Contains(r.stderr, "writable by everyone and not sticky") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q; want exit 1 and one line refusing the directory", r.code, r.stderr)
	}
	if m := modeOf(t, dir); m != 0o777 {
		t.Fatalf("the refused directory's mode became %v", m)
	}
	if _, err := os.Stat(store); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused vmrepd created its store (%v)", err)
	}
}

// TestSocketChownFailureStops: vmrepd running as a uid outside the allowed
// group cannot give it the socket, and says so instead of serving a socket
// the group cannot reach.
func TestSocketChownFailureStops(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run vmrepd as another uid")
	}
	const uid = 10003
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
	r := vmrepdMustExit(t, &syscall.Credential{Uid: uid, Gid: uid}, "--store", filepath.Join(dir, "store"),
		"--socket", filepath.Join(dir, "run", "vmrepd.sock"), "--allow-group", strconv.Itoa(memberGID))
	if r.code != 1 || !strings.Contains(r.stderr, "to group "+strconv.Itoa(memberGID)) || !strings.Contains(r.stderr, "operation not permitted") {
		t.Fatalf("exit %d, stderr %q; want exit 1 saying the group could not be given", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the socket directory vmrepd created is left behind (%v)", err)
	}
}

// tree lists every path under dir with its mode, skipping skip's contents.
func tree(t *testing.T, dir, skip string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := e.Info()
		b.WriteString(p + " " + fi.Mode().String() + "\n")
		if p == skip {
			return fs.SkipDir
		}
		return nil
	})
	return b.String()
}

// TestSecondDaemonCreatesNothing: a vmrepd refused because the store is
// served already leaves no directory, socket or file behind, also when its
// --socket names a directory that does not exist yet.
func TestSecondDaemonCreatesNothing(t *testing.T) {
	d := newDaemon(t)
	before := tree(t, d.dir, d.store)
	storeBefore, _ := os.ReadDir(d.store)
	r := vmrepdMustExit(t, nil, "--store", d.store, "--socket", filepath.Join(d.dir, "new", "run", "other.sock"), "--allow-group", "0")
	if r.code != 1 || !strings.Contains(r.stderr, "another vmrepd") {
		t.Fatalf("second daemon: exit %d, stderr %q", r.code, r.stderr)
	}
	if after := tree(t, d.dir, d.store); after != before {
		t.Fatalf("the refused daemon created something:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if storeAfter, _ := os.ReadDir(d.store); len(storeAfter) != len(storeBefore) {
		t.Fatalf("store directory had %v, now %v", storeBefore, storeAfter)
	}
	d.ok("vg", "list")
}

// TestHelpAndVersion: vmrepd's help goes to stdout with examples, usage
// mistakes exit 2 in one line, and both commands have --version, which
// needs no daemon.
func TestHelpAndVersion(t *testing.T) {
	vmrepd, vmrep := filepath.Join(binDir, "vmrepd"), filepath.Join(binDir, "vmrep")
	nowhere := filepath.Join(t.TempDir(), "none.sock")
	for _, tc := range []struct {
		args         []string
		code         int
		stdout, errs string // must contain
	}{
		{[]string{vmrepd, "--help"}, 0, "Examples:\n  # Serve a store", ""},
		{[]string{vmrepd, "--help"}, 0, "--allow-group group", ""},
		{[]string{vmrepd, "--version"}, 0, "vmrepd version ", ""},
		{[]string{vmrep, "--socket", nowhere, "--version"}, 0, "vmrep version ", ""},
		{[]string{vmrepd, "--no-such-flag"}, 2, "", "vmrepd: unknown flag: --no-such-flag\n"},
		{[]string{vmrepd}, 2, "", "vmrepd: --store DIR is required\n"},
		{[]string{vmrepd, "--store", t.TempDir(), "extra"}, 2, "", "vmrepd: vmrepd takes no arguments, got \"extra\"\n"},
	} {
		r := runCLI(t, exec.Command(tc.args[0], tc.args[1:]...))
		if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || (tc.errs == "") != (r.stderr == "") || !strings.Contains(r.stderr, tc.errs) {
			t.Errorf("%s: exit %d\nstdout %q\nstderr %q\nwant exit %d, stdout with %q, stderr %q",
				strings.Join(tc.args[1:], " "), r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.errs)
		}
		if strings.Contains(r.stdout, "socket-mode") {
			t.Errorf("%s shows the hidden --socket-mode", strings.Join(tc.args[1:], " "))
		}
		if tc.errs != "" && strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s: stderr is not one line: %q", strings.Join(tc.args[1:], " "), r.stderr)
		}
	}
}
