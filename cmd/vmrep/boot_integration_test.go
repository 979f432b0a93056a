package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// The boot tests replicate the sample VM (scripts/sample-vm.sh: Debian with
// its kernel and SYSLINUX on an MBR boot volume, an ext4 data volume the
// guest mounts at /data, qemu-guest-agent) and boot the replica in QEMU,
// under KVM where it works, else TCG. They read files from inside the
// running guest through --check.

// bootPartOffset is where the sample's root partition starts.
const bootPartOffset = 1 << 20

// sampleCopy copies the sample VM's two volumes (sampleVM) into dir,
// sparsely, so that the test may change them.
func sampleCopy(t *testing.T, dir string) (boot, data string) {
	t.Helper()
	testdisk.NeedRoot(t)
	needQEMU(t)
	testdisk.Need(t, "debugfs")
	srcBoot, srcData := sampleVM(t)
	boot, data = filepath.Join(dir, "boot.img"), filepath.Join(dir, "data.img")
	for _, f := range [][2]string{{srcBoot, boot}, {srcData, data}} {
		if b, err := exec.Command("cp", "--sparse=always", f[0], f[1]).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v\n%s", f[0], err, b)
		}
	}
	return boot, data
}

// setHello rewrites /hello.txt on the sample's data volume (ext4, no
// partition table), as a program in the guest would.
func setHello(t *testing.T, data, content string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "hello.txt")
	if err := os.WriteFile(src, []byte(content+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := testdisk.Debugfs(context.Background(), data, "rm hello.txt", "write "+src+" hello.txt"); err != nil {
		t.Fatal(err)
	}
}

// setStamp writes /etc/vmrep-stamp on the sample's root file system, in
// the boot volume's first partition, through a loop mount.
func setStamp(t *testing.T, boot, content string) {
	t.Helper()
	mnt := t.TempDir()
	if b, err := exec.Command("mount", "-o", "loop,offset=1048576", boot, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v\n%s", boot, err, b)
	}
	err := os.WriteFile(filepath.Join(mnt, "etc", "vmrep-stamp"), []byte(content+"\n"), 0o644)
	if b, uerr := exec.Command("umount", mnt).CombinedOutput(); uerr != nil {
		t.Fatalf("umount %s: %v\n%s", mnt, uerr, b)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// launchTest runs vmrep launch --test with checks, ready on the sample's
// own line (its /data mount is nofail, so a login prompt may come before
// /data is there), and returns its result.
func (d *testDaemon) launchTest(snap, replica string, checks ...string) api.LaunchResult {
	d.t.Helper()
	args := []string{"launch", "--test", snap, "--replica", replica, "--timeout", "600s", "--ready", "vmrep-sample: ready"}
	for _, c := range checks {
		args = append(args, "--check", c)
	}
	var res api.LaunchResult
	d.okJSONResult(&res, args...)
	d.t.Logf("launch %s: ready after %.1fs under %s (%s), %s", snap, res.BootSeconds, res.Accel, res.AccelNote, res.Firmware)
	return res
}

// checkOutput is the output of the check cmd in res.
func checkOutput(t *testing.T, res api.LaunchResult, cmd string) string {
	t.Helper()
	for _, c := range res.Checks {
		if c.Command == cmd {
			return c.Stdout
		}
	}
	t.Fatalf("launch result has no check %q: %+v", cmd, res.Checks)
	return ""
}

// TestBootReplica is the story past the first boot (which
// TestLaunchSampleVM shows with the zeroed boot sector): a file changed
// inside each of the guest's file systems, the delta from VM1 to VM2
// applied and the new content read from inside the booted replica; then
// failback from VM3 to VM1 by a backward delta, byte-identical to VM1,
// booted and read.
func TestBootReplica(t *testing.T) {
	d := newDaemon(t)
	boot, data := sampleCopy(t, d.dir)
	d.ok("vg", "create", "vm", "--boot", boot, "--data", "data="+data)
	var vg api.VG
	d.okJSON(&vg, "vg", "show", "vm")
	const hello, stamp = "cat /data/hello.txt", "cat /etc/vmrep-stamp"

	setStamp(t, boot, "VM1")
	d.ok("snapshot", "create", "vm")
	replica := filepath.Join(d.dir, "replica")
	d.ok("replica", "create", "vm@1", "--dir", replica)

	// VM2: a file changed in each file system, moved there by a delta.
	setHello(t, data, "hello from VM2")
	setStamp(t, boot, "VM2")
	d.ok("snapshot", "create", "vm")
	d12 := filepath.Join(d.dir, "d12.vmdelta")
	d.ok("delta", "export", "vm@1", "vm@2", "-o", d12)
	d.ok("delta", "apply", d12, "--replica", replica)
	at2 := treeHash(t, replica)
	res := d.launchTest("vm@2", replica, hello, stamp)
	if got := checkOutput(t, res, hello); got != "hello from VM2\n" {
		t.Errorf("VM2 %s: %q", hello, got)
	}
	if got := checkOutput(t, res, stamp); got != "VM2\n" {
		t.Errorf("VM2 %s: %q", stamp, got)
	}
	if treeHash(t, replica) != at2 {
		t.Fatal("the test launch wrote the replica")
	}

	// VM3, then failback to VM1 by a backward delta.
	setHello(t, data, "hello from VM3")
	setStamp(t, boot, "VM3")
	d.ok("snapshot", "create", "vm")
	d.ok("replica", "create", "--at", "vm@3", "--dir", replica)
	back := filepath.Join(d.dir, "d31.vmdelta")
	d.ok("delta", "export", "vm@3", "vm@1", "-o", back)
	d.ok("delta", "apply", back, "--replica", replica)
	for _, v := range vg.Volumes {
		src := filepath.Join(d.dir, "at1-"+v.Name+".img")
		d.ok("restore", "vm@1", "--volume", v.Name, "-o", src)
		sameFile(t, src, filepath.Join(replica, v.ID+".img"))
	}
	d.ok("replica", "verify", replica)
	res = d.launchTest("vm@1", replica, hello, stamp)
	if got := checkOutput(t, res, hello); got != "hello from VM1\n" {
		t.Errorf("failback to VM1 %s: %q", hello, got)
	}
	if got := checkOutput(t, res, stamp); got != "VM1\n" {
		t.Errorf("failback to VM1 %s: %q", stamp, got)
	}
}
