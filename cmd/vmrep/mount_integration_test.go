package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// needFUSE skips where the kernel cannot serve FUSE mounts, except in CI.
func needFUSE(t *testing.T) {
	t.Helper()
	testdisk.NeedRoot(t)
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs /dev/fuse: %v", err)
		}
		t.Skipf("needs /dev/fuse: %v", err)
	}
}

// fuseMounted reports whether dir is a vmrep FUSE mount point.
func fuseMounted(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(pre)
		if ok && len(fields) > 4 && fields[4] == dir && strings.HasPrefix(post, "fuse.vmrep ") {
			return true
		}
	}
	return false
}

func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// waitFor waits for a catalog change to show through the mount.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	testdisk.Eventually(t, what, 15*time.Second, cond)
}

// TestMountThroughDaemon drives the whole FUSE life cycle through vmrepd:
// mount, byte-exact reads, an ext4 volume loop-mounted from the FUSE file,
// a new snapshot appearing without a remount, SIGKILL and SIGTERM of the
// daemon while mounted (each start mounts again), and umount.
func TestMountThroughDaemon(t *testing.T) {
	needFUSE(t)
	testdisk.Need(t, "mkfs.ext4", "mount", "umount")
	ctx := context.Background()
	mntRoot := t.TempDir()
	mnt := filepath.Join(mntRoot, "vmrep")
	loop := filepath.Join(mntRoot, "loop")
	for _, d := range []string{mnt, loop} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A safety net that runs after the daemon has stopped.
	t.Cleanup(func() {
		exec.Command("umount", loop).Run()
		if fuseMounted(t, mnt) {
			exec.Command("umount", "-l", mnt).Run()
		}
	})
	d := newDaemon(t)

	tree := filepath.Join(d.dir, "tree")
	names, err := testdisk.Tree(tree, testdisk.TreeSpec{Seed: 6, Files: 80, Bytes: 6 << 20})
	if err != nil {
		t.Fatal(err)
	}
	boot := filepath.Join(d.dir, "boot.img")
	if err := testdisk.Ext4(ctx, boot, tree, 32); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(d.dir, "data.img")
	writeImage(t, data, 24<<20+12345, 9) // not a multiple of 4 KiB
	d.ok("vg", "create", "web", "--boot", boot, "--data", "db="+data)
	d.ok("snapshot", "create", "web")

	// Bad mount points are refused like other paths.
	for _, bad := range []string{"relative/dir", filepath.Join(d.dir, "absent"), data, d.store} {
		if r := d.vmrep("mount", bad); r.code == 0 {
			t.Errorf("mount %s succeeded", bad)
		}
	}

	d.ok("mount", mnt, "--cache-size", "64MiB")
	if r := d.vmrep("mount", mnt); r.code == 0 {
		t.Errorf("second mount of %s succeeded", mnt)
	}
	var infos []api.MountInfo
	d.okJSON(&infos, "mounts")
	if len(infos) != 1 || infos[0].Dir != mnt || infos[0].CacheSize != 64<<20 {
		t.Fatalf("mounts: %+v", infos)
	}
	sameFile(t, filepath.Join(mnt, "web", "1", "db.img"), data)
	sameFile(t, filepath.Join(mnt, "web", "latest", "boot.img"), boot)

	// The boot volume is a file system: loop-mount it from the FUSE file.
	sameTreeThroughLoop(t, filepath.Join(mnt, "web", "1", "boot.img"), loop, tree, names)

	// A new snapshot appears without a remount.
	writeImage(t, data, 24<<20+12345, 10)
	d.ok("snapshot", "create", "web")
	waitFor(t, "snapshot 2 in the mount", func() error {
		target, err := os.Readlink(filepath.Join(mnt, "web", "latest"))
		if err != nil {
			return err
		}
		if target != "2" {
			return fmt.Errorf("latest -> %s", target)
		}
		return nil
	})
	sameFile(t, filepath.Join(mnt, "web", "2", "db.img"), data)

	remountAfterRestarts(t, d, mnt, filepath.Join(mnt, "web", "2", "db.img"), data)

	d.ok("umount", mnt)
	if fuseMounted(t, mnt) {
		t.Fatalf("%s still mounted after umount", mnt)
	}
	d.okJSON(&infos, "mounts")
	if len(infos) != 0 {
		t.Fatalf("mounts after umount: %+v", infos)
	}
	if r := d.vmrep("umount", mnt); r.code == 0 {
		t.Errorf("umount of a directory not mounted succeeded")
	}
	var state []json.RawMessage
	b, err := os.ReadFile(filepath.Join(d.store, "mounts.json"))
	if err != nil || json.Unmarshal(b, &state) != nil || len(state) != 0 {
		t.Fatalf("mounts.json after umount: %s (%v)", b, err)
	}
}

// sameTreeThroughLoop loop-mounts the ext4 image img (a file of the FUSE
// mount) read-only at loop and checks that every named file matches the
// tree it was built from.
func sameTreeThroughLoop(t *testing.T, img, loop, tree string, names []string) {
	t.Helper()
	mustRun(t, "mount", "-o", "loop,ro", img, loop)
	for _, n := range names {
		got, err := sha256File(filepath.Join(loop, n))
		if err != nil {
			t.Fatal(err)
		}
		want, err := sha256File(filepath.Join(tree, n))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: sha256 %s through FUSE and loop, %s in the source tree", n, got, want)
		}
	}
	mustRun(t, "umount", loop)
}

// remountAfterRestarts kills the daemon, then stops it, while mnt is
// mounted, and checks that each start serves the mount again: img, a file
// in the mount, must keep reading as the file want.
func remountAfterRestarts(t *testing.T, d *testDaemon, mnt, img, want string) {
	t.Helper()
	// SIGKILL leaves a dead FUSE mount; the next start cleans it and mounts again.
	d.kill()
	// (A directory listing always asks the server; attributes may be cached.)
	if _, err := os.ReadDir(mnt); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("listing a mount whose daemon was killed: %v, want ENOTCONN", err)
	}
	d.start()
	sameFile(t, img, want)
	var infos []api.MountInfo
	d.okJSON(&infos, "mount", "--list")
	if len(infos) != 1 || infos[0].Dir != mnt {
		t.Fatalf("mounts after restart: %+v", infos)
	}

	// SIGTERM unmounts; the mount is kept on record and comes back.
	d.stop()
	if fuseMounted(t, mnt) {
		t.Fatalf("%s still mounted after the daemon stopped", mnt)
	}
	d.start()
	sameFile(t, img, want)
	if !fuseMounted(t, mnt) {
		t.Fatalf("%s not mounted again after restart", mnt)
	}
}

// TestMountRefusesNonEmptyDir: mounting over a directory that holds files
// would hide them; it is refused with one line unless --force. (Before,
// the mount succeeded and the files vanished from view.)
func TestMountRefusesNonEmptyDir(t *testing.T) {
	needFUSE(t)
	mnt := mountDir(t)
	if err := os.WriteFile(filepath.Join(mnt, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := newDaemon(t)
	d.makeVG("web", 4<<20, 51)
	d.ok("snapshot", "create", "web")

	r := d.vmrep("mount", mnt)
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "is not empty") ||
		!strings.Contains(r.stderr, "--force") {
		t.Fatalf("mount over a non-empty dir: %+v", r)
	}
	if fuseMounted(t, mnt) {
		t.Fatal("refused mount is mounted")
	}
	var infos []api.MountInfo
	d.okJSON(&infos, "mount", "--list")
	if len(infos) != 0 {
		t.Fatalf("refused mount listed: %+v", infos)
	}
	d.ok("mount", mnt, "--force")
	if _, err := os.Stat(filepath.Join(mnt, "web", "1", "boot.img")); err != nil {
		t.Fatalf("forced mount: %v", err)
	}
	d.ok("umount", mnt)
	if b, err := os.ReadFile(filepath.Join(mnt, "notes.txt")); err != nil || string(b) != "mine" {
		t.Fatalf("after umount: %q, %v", b, err)
	}
	// An empty directory needs no --force.
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if fuseMounted(t, empty) {
			exec.Command("umount", "-l", empty).Run()
		}
	})
	d.ok("mount", empty)
	d.ok("umount", empty)
}

// mountDir makes an empty mount point for a test and, as a safety net
// that runs after the test's daemon has stopped (call it before
// newDaemon), lazily unmounts whatever is still mounted there.
func mountDir(t *testing.T) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if fuseMounted(t, mnt) {
			exec.Command("umount", "-l", mnt).Run()
		}
	})
	return mnt
}
