package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vmrep/vmrep/engine/capture"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// needLVM skips unless LVM can activate volumes here: root, the tools, and a
// kernel with device-mapper (which no package installs). Without udev the
// tools are told to make device nodes themselves.
func needLVM(t *testing.T) {
	t.Helper()
	testdisk.NeedRoot(t)
	testdisk.Need(t, "lvcreate", "losetup", "fsfreeze", "mkfs.ext4", "fsck.ext4")
	if b, err := os.ReadFile("/proc/misc"); err != nil || !bytes.Contains(b, []byte("device-mapper")) {
		t.Skip("the kernel has no device-mapper (not in /proc/misc): LVM cannot activate volumes here")
	}
	if _, err := os.Stat("/run/udev/control"); err != nil {
		t.Setenv("DM_DISABLE_UDEV", "1")
	}
	t.Setenv("LVM_SUPPRESS_FD_WARNINGS", "1")
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// lvmDisk is an LVM volume group on a loop device over a sparse file, with
// one logical volume.
type lvmDisk struct {
	vg, lv string
	dev    string // the logical volume's device node
}

func newLVMDisk(t *testing.T, dir string, lvMiB int) *lvmDisk {
	t.Helper()
	img := filepath.Join(dir, "pv.img")
	sh(t, "truncate", "-s", fmt.Sprintf("%dM", 2*lvMiB+16), img)
	loop := sh(t, "losetup", "-f", "--show", img)
	var rnd [4]byte
	rand.Read(rnd[:])
	d := &lvmDisk{vg: "vmreptest" + hex.EncodeToString(rnd[:]), lv: "data"}
	t.Cleanup(func() {
		// Every step, whatever was reached; errors ignored.
		exec.Command("lvremove", "-f", d.vg).Run()
		exec.Command("vgremove", "-f", d.vg).Run()
		exec.Command("pvremove", "-ff", "-y", loop).Run()
		exec.Command("losetup", "-d", loop).Run()
	})
	sh(t, "pvcreate", "-ff", "-y", loop)
	sh(t, "vgcreate", d.vg, loop)
	sh(t, "lvcreate", "-y", "-L", fmt.Sprintf("%dM", lvMiB), "-n", d.lv, d.vg)
	d.dev = "/dev/" + d.vg + "/" + d.lv
	if _, err := os.Stat(d.dev); err != nil {
		d.dev = "/dev/mapper/" + d.vg + "-" + d.lv
	}
	return d
}

// mount mounts dev at a new directory under dir; unmounted at cleanup,
// before the disk's own cleanup (t.Cleanup runs last-in first).
func mountAt(t *testing.T, dev, dir string, opts ...string) string {
	t.Helper()
	mnt, err := os.MkdirTemp(dir, "mnt-")
	if err != nil {
		t.Fatal(err)
	}
	sh(t, "mount", append(opts, dev, mnt)...)
	t.Cleanup(func() {
		exec.Command("fsfreeze", "-u", mnt).Run() // in case a failure left it frozen
		exec.Command("umount", mnt).Run()
	})
	return mnt
}

// snapshotLVs lists the vmrep-* snapshot volumes in vg.
func snapshotLVs(t *testing.T, vg string) []string {
	t.Helper()
	var out []string
	for _, n := range strings.Fields(sh(t, "lvs", "--noheadings", "-o", "lv_name", vg)) {
		if strings.HasPrefix(n, capture.SnapshotPrefix) {
			out = append(out, n)
		}
	}
	return out
}

// fileData is what the writer puts in file i.
func fileData(i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("file %06d ", i)), 16<<10/12)
}

// A logical volume that a writer keeps changing is captured through an LVM
// snapshot between fsfreeze hooks; the restored image is a clean file system
// holding every file that was complete before the snapshot began, and no
// snapshot volume is left.
func TestLVMSnapshotWhileWriting(t *testing.T) {
	needLVM(t)
	d := newDaemon(t)
	disk := newLVMDisk(t, d.dir, 128)
	sh(t, "mkfs.ext4", "-q", disk.dev)
	mnt := mountAt(t, disk.dev, d.dir)

	d.ok("vg", "create", "lvmweb", "--boot", disk.dev, "--lvm-snapshot",
		"--pre-snapshot", "fsfreeze -f "+mnt, "--post-snapshot", "fsfreeze -u "+mnt, "--hook-timeout", "60s")

	var mu sync.Mutex
	written := 0 // files 0..written-1 are complete
	stop := make(chan struct{})
	done := make(chan error, 1)
	progress := make(chan struct{}, 1)
	var stopOnce sync.Once
	var wg sync.WaitGroup
	stopWriter := func() {
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	// On a failure, the writer must be gone (and the file system thawed
	// for it to finish) before the unmount.
	t.Cleanup(func() {
		exec.Command("fsfreeze", "-u", mnt).Run()
		stopWriter()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 4000; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := os.WriteFile(filepath.Join(mnt, fmt.Sprintf("f%06d", i)), fileData(i), 0o644); err != nil {
				done <- err
				return
			}
			mu.Lock()
			written = i + 1
			mu.Unlock()
			select {
			case progress <- struct{}{}:
			default:
			}
		}
		done <- nil
	}()
	for n := 0; n < 50; n++ {
		select {
		case <-progress:
		case err := <-done:
			t.Fatalf("writer ended early: %v", err)
		}
	}
	mu.Lock()
	before := written
	mu.Unlock()
	d.ok("snapshot", "create", "lvmweb")
	stopWriter()
	if err := <-done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	mu.Lock()
	after := written
	mu.Unlock()

	if lvs := snapshotLVs(t, disk.vg); len(lvs) != 0 {
		t.Errorf("snapshot volumes left behind: %v", lvs)
	}
	if b, err := os.ReadFile(filepath.Join(d.store, "lvm-snapshots.json")); err == nil && strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("lvm state file still names snapshots: %s", b)
	}
	if !strings.Contains(d.log.String(), "lvm snapshot "+disk.vg+"/"+capture.SnapshotPrefix) {
		t.Errorf("the daemon log does not show an lvm snapshot taken:\n%s", d.log)
	}

	out := filepath.Join(d.dir, "restored.img")
	d.ok("restore", "lvmweb@latest", "-o", out)
	if err := testdisk.Fsck(context.Background(), out); err != nil {
		t.Fatalf("restored snapshot is not a clean file system: %v", err)
	}
	ro := mountAt(t, out, d.dir, "-o", "loop,ro")
	for i := 0; i < before; i++ {
		b, err := os.ReadFile(filepath.Join(ro, fmt.Sprintf("f%06d", i)))
		if err != nil || !bytes.Equal(b, fileData(i)) {
			t.Fatalf("file %d, complete before the snapshot, reads back %d bytes, %v", i, len(b), err)
		}
	}
	ents, err := os.ReadDir(ro)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files complete before the snapshot, %d after it; the snapshot holds %d entries", before, after, len(ents))
}

// A snapshot volume named in the store's LVM state file, as a daemon killed
// mid-capture leaves it, is removed when the daemon starts.
func TestDaemonRemovesLeftoverLVMSnapshot(t *testing.T) {
	needLVM(t)
	d := newDaemon(t)
	disk := newLVMDisk(t, d.dir, 32)
	leftover := capture.SnapshotPrefix + "leftover"
	sh(t, "lvcreate", "-y", "--snapshot", "--name", leftover, "--size", "8M", disk.vg+"/"+disk.lv)
	if lvs := snapshotLVs(t, disk.vg); len(lvs) != 1 {
		t.Fatalf("snapshot volumes before the restart: %v", lvs)
	}
	d.stop()
	writeLVMState(t, d.store, disk.vg+"/"+leftover)
	d.start()
	if lvs := snapshotLVs(t, disk.vg); len(lvs) != 0 {
		t.Errorf("snapshot volumes after the restart: %v\n%s", lvs, d.log)
	}
	if sh(t, "lvs", "--noheadings", "-o", "lv_name", disk.vg+"/"+disk.lv) != disk.lv {
		t.Errorf("the origin volume is gone")
	}
	if !strings.Contains(d.log.String(), leftover) {
		t.Errorf("the daemon did not log the removal:\n%s", d.log)
	}
}

// The state file is read and emptied at start even where LVM cannot run: a
// name whose volume group does not exist counts as removed.
func TestDaemonClearsLVMState(t *testing.T) {
	testdisk.NeedRoot(t)
	testdisk.Need(t, "lvremove")
	t.Setenv("LVM_SUPPRESS_FD_WARNINGS", "1")
	d := newDaemon(t)
	d.stop()
	writeLVMState(t, d.store, "vmrepnosuchvg/"+capture.SnapshotPrefix+"gone")
	d.start()
	b, err := os.ReadFile(filepath.Join(d.store, "lvm-snapshots.json"))
	if err != nil || strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("state file after start: %q, %v\n%s", b, err, d.log)
	}
}

func writeLVMState(t *testing.T, store string, names ...string) {
	t.Helper()
	b, _ := json.Marshal(names)
	if err := os.WriteFile(filepath.Join(store, "lvm-snapshots.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}
