package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/testdisk"
)

// smallExt4 makes and loop-mounts an ext4 file system of size bytes,
// unmounted (and its loop device released) when the test ends.
func smallExt4(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to loop-mount a small file system")
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("needs mkfs.ext4")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot loop-mount: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", mnt, err, out)
			exec.Command("umount", "-l", mnt).Run()
		}
	})
	return mnt
}

// stopWithin sends SIGTERM and fails the test unless vmrepd exits cleanly
// within limit.
func (d *testDaemon) stopWithin(limit time.Duration) {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("vmrepd exit: %v\n%s", err, d.log)
		}
	case <-time.After(limit):
		d.cmd.Process.Kill()
		<-d.done
		d.t.Errorf("vmrepd did not stop within %v of SIGTERM\n%s", limit, tail(d.log.String(), 4000))
	}
	d.cmd = nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// failsInOneLine checks that a failed command printed one line on stderr
// that contains one of wants.
func failsInOneLine(t *testing.T, what string, r result, wants ...string) {
	t.Helper()
	msg := strings.TrimSpace(r.stderr)
	if r.code == 1 && !strings.Contains(msg, "\n") {
		for _, w := range wants {
			if strings.Contains(msg, w) {
				t.Logf("%s: %s", what, msg)
				return
			}
		}
	}
	t.Fatalf("%s: exit %d, stderr %q; want exit 1 and one line containing one of %q", what, r.code, r.stderr, wants)
}

// TestFullDisk runs vmrepd with its store on a small file system that
// fills up: snapshot delete and gc end in a clean error or succeed, the
// daemon keeps answering, starts again on the full disk read-only, stops
// on SIGTERM, and takes snapshots again once space is freed.
func TestFullDisk(t *testing.T) {
	mnt := smallExt4(t, 64<<20)
	dir := t.TempDir()
	d := &testDaemon{t: t, bin: filepath.Join(binDir, "vmrepd"), dir: dir, store: filepath.Join(mnt, "store"),
		socket: filepath.Join(dir, "run", "vmrepd.sock")}
	d.start()
	t.Cleanup(d.stop)
	// "old" has a pack to itself, which its snapshot's delete leaves wholly
	// dead: gc's index batch then outgrows what the full disk has left.
	d.makeVG("old", 16<<20, 60)
	d.ok("snapshot", "create", "old")
	boot, _ := d.makeVG("web", 8<<20, 71)
	d.ok("snapshot", "create", "web")
	writeImage(t, boot, 8<<20, 72)
	d.ok("snapshot", "create", "web")
	// A restart leaves the index a new write-ahead log with no space set
	// aside yet: once the disk is full, its writes need blocks there are not.
	d.stopWithin(20 * time.Second)
	d.start()
	filler := testdisk.FillFS(t, mnt)

	// Each either works or fails in one line; the daemon keeps answering.
	const full, refused = "no space left on device", "free space and restart vmrepd"
	r := d.vmrep("snapshot", "delete", "old@1")
	t.Logf("snapshot delete on a full disk: exit %d: %s%s", r.code, r.stdout, r.stderr)
	if r.code != 0 {
		failsInOneLine(t, "snapshot delete on a full disk", r, full, refused)
	}
	r = d.vmrep("gc")
	t.Logf("gc on a full disk: exit %d: %s%s", r.code, r.stdout, r.stderr)
	if r.code != 0 {
		failsInOneLine(t, "gc on a full disk", r, full, refused)
	}
	filler2 := testdisk.FillFS(t, mnt) // what gc freed
	failsInOneLine(t, "snapshot create on a full disk", d.vmrep("snapshot", "create", "web"), full, refused)
	d.ok("vg", "list")
	time.Sleep(time.Second) // room for Pebble's background retries to log
	if n := strings.Count(d.log.String(), "level=ERROR"); n > 10 {
		t.Errorf("the full disk cost %d error lines in the log, want a few:\n%s", n, tail(d.log.String(), 4000))
	}

	// Restart on the full disk: it answers, reads, refuses writes.
	d.stopWithin(20 * time.Second)
	d.start()
	d.ok("vg", "list")
	d.ok("snapshot", "list", "web")
	failsInOneLine(t, "snapshot create on a read-only store", d.vmrep("snapshot", "create", "web"), "free space and restart vmrepd")
	if !strings.Contains(d.log.String(), "store is read-only") {
		t.Errorf("daemon log does not say the store is read-only:\n%s", d.log)
	}
	if out := d.ok("verify"); !strings.Contains(out, "no problems") {
		t.Fatalf("verify on the read-only store: %s", out)
	}
	d.stopWithin(20 * time.Second)

	// Space freed: writable again.
	for _, f := range []string{filler, filler2} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	d.start()
	d.ok("snapshot", "create", "web")
	d.ok("gc")
	if out := d.ok("verify", "--read-data"); !strings.Contains(out, "no problems") {
		t.Fatalf("verify after freeing space: %s", out)
	}
	if out := d.ok("snapshot", "list", "old"); strings.Contains(out, "old@1") {
		t.Fatalf("old@1 is back after its delete:\n%s", out)
	}
	if n := strings.Count(d.log.String(), "\n"); n > 200 {
		t.Errorf("daemon logged %d lines after space was freed", n)
	}
}

// TestReadOnlyStoreFS starts vmrepd on a store whose file system is
// mounted read-only: it answers, serves reads, refuses snapshots and gc in
// one line, and stops on SIGTERM.
func TestReadOnlyStoreFS(t *testing.T) {
	mnt := smallExt4(t, 64<<20)
	dir := t.TempDir()
	d := &testDaemon{t: t, bin: filepath.Join(binDir, "vmrepd"), dir: dir, store: filepath.Join(mnt, "store"),
		socket: filepath.Join(dir, "run", "vmrepd.sock")}
	d.start()
	t.Cleanup(d.stop)
	boot, _ := d.makeVG("web", 4<<20, 81)
	d.ok("snapshot", "create", "web")
	d.ok("snapshot", "create", "web")
	d.stopWithin(20 * time.Second)
	if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v\n%s", err, out)
	}
	d.start()
	d.ok("vg", "list")
	d.ok("snapshot", "show", "web@1")
	const refused = "store index cannot be written (read-only file system); make the file system writable and restart vmrepd"
	failsInOneLine(t, "snapshot create on a read-only file system", d.vmrep("snapshot", "create", "web"), refused)
	failsInOneLine(t, "snapshot delete on a read-only file system", d.vmrep("snapshot", "delete", "web@1"), refused, "read-only file system")
	failsInOneLine(t, "gc on a read-only file system", d.vmrep("gc"), refused)
	out := filepath.Join(dir, "boot.out")
	d.ok("restore", "web@2", "--volume", "boot", "-o", out)
	sameFile(t, boot, out)
	d.stopWithin(20 * time.Second)
}
