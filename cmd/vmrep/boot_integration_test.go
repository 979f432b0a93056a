package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/testdisk"
	"github.com/vmrep/vmrep/internal/tofutest"
)

// The boot tests replicate the sample VM (scripts/sample-vm.sh: Debian with
// its kernel and SYSLINUX on an MBR boot volume, an ext4 data volume the
// guest mounts at /data, qemu-guest-agent) and boot the replica in QEMU,
// under KVM where it works, else TCG. They read files from inside the
// running guest through --check.

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
	// The root partition starts at 1 MiB (scripts/sample-vm.sh).
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

// TestCutover: a dry run changes nothing and lists the steps; the cutover
// runs the pre-snapshot hook, takes the final snapshot, moves the replica
// there by one delta, verifies it, boots it for real (the VM keeps
// running under the daemon) and marks the VG cut over: the schedule stops,
// status says so, and the live replica is refused to every writer.
func TestCutover(t *testing.T) {
	d := newDaemon(t)
	boot, data := sampleCopy(t, d.dir)
	marker := filepath.Join(d.dir, "quiesced")
	d.ok("vg", "create", "vm", "--boot", boot, "--data", "data="+data, "--pre-snapshot", "date >> "+marker)
	d.ok("snapshot", "create", "vm")
	replica := filepath.Join(d.dir, "replica")
	d.ok("replica", "create", "vm@1", "--dir", replica)
	deltas := filepath.Join(d.dir, "deltas")
	if err := os.Mkdir(deltas, 0o755); err != nil {
		t.Fatal(err)
	}
	d.ok("schedule", "set", "vm", "--every", "1h", "--delta-dir", deltas)
	os.Remove(marker)

	at1 := treeHash(t, replica)
	var dry api.CutoverResult
	d.okJSONResult(&dry, "cutover", "vm", "--replica", replica, "--dry-run")
	if !dry.DryRun || dry.From != "vm@1" || dry.Snapshot != "vm@2" || len(dry.Steps) != 5 {
		t.Fatalf("dry run: %+v", dry)
	}
	for _, s := range dry.Steps {
		if s.Done {
			t.Errorf("dry run did step %+v", s)
		}
	}
	out := d.ok("cutover", "vm", "--replica", replica, "--dry-run")
	for _, want := range []string{"would:", "1. snapshot", "pre-snapshot hook", "5. mark"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	var snaps []api.Snapshot
	d.okJSON(&snaps, "snapshot", "list", "vm")
	if _, err := os.Stat(marker); err == nil || len(snaps) != 1 || treeHash(t, replica) != at1 {
		t.Fatalf("the dry run changed something: hook ran %v, %d snapshots, replica changed %v",
			err == nil, len(snaps), treeHash(t, replica) != at1)
	}

	// A VG without hooks has its dry run too (its Hooks record is nil).
	d.ok("vg", "create", "plain", "--boot", boot)
	d.ok("snapshot", "create", "plain")
	plain := filepath.Join(d.dir, "plain-replica")
	d.ok("replica", "create", "plain@1", "--dir", plain)
	if out := d.ok("cutover", "plain", "--replica", plain, "--dry-run"); !strings.Contains(out, "no pre-snapshot hook is set") {
		t.Errorf("dry run of a VG without hooks:\n%s", out)
	}

	setHello(t, data, "hello at cutover")
	var res api.CutoverResult
	d.okJSONResult(&res, "cutover", "vm", "--replica", replica, "--timeout", "600s")
	t.Logf("cutover: %+v", res.Steps)
	if res.From != "vm@1" || res.Snapshot != "vm@2" || len(res.Steps) != 5 || res.Launch == nil || res.Launch.Instance == "" {
		t.Fatalf("cutover result: %+v", res)
	}
	for _, s := range res.Steps {
		if !s.Done {
			t.Errorf("step not done: %+v", s)
		}
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("the cutover did not run the pre-snapshot hook")
	}
	var vms []api.Instance
	d.okJSON(&vms, "launch", "list")
	if len(vms) != 1 || vms[0].ID != res.Launch.Instance || vms[0].Dir != replica || vms[0].Snapshot != "vm@2" || !vms[0].Running {
		t.Fatalf("instances after the cutover: %+v", vms)
	}

	var st api.StatusReport
	d.okJSON(&st, "status", "vm")
	if c := st.VGs[0].CutOver; c == nil || c.Snapshot != "vm@2" || c.Replica != replica {
		t.Errorf("status after the cutover: %+v", st.VGs[0].CutOver)
	}
	if sc := st.VGs[0].Schedule; sc == nil || sc.NextRun != nil {
		t.Errorf("the schedule still has a next run after the cutover: %+v", sc)
	}
	if out := d.ok("status", "vm"); !strings.Contains(out, "CUT OVER") || !strings.Contains(out, "stopped by the cutover") {
		t.Errorf("status text does not say the VG was cut over:\n%s", out)
	}
	for _, refused := range [][]string{
		{"cutover", "vm", "--replica", replica},
		{"replica", "create", "--at", "vm@1", "--dir", replica},
		{"schedule", "resume", "vm"},
	} {
		r := d.vmrep(refused...)
		if r.code != 1 || !strings.Contains(r.stderr, "cut over") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("vmrep %v after the cutover: exit %d, stderr %q; want 1 and one line saying it was cut over", refused, r.code, r.stderr)
		}
	}

	d.ok("launch", "stop", res.Launch.Instance)
	d.okJSON(&vms, "launch", "list")
	if len(vms) != 0 {
		t.Errorf("instances after stop: %+v", vms)
	}
}

// TestStackLaunchTest applies local stacks with launch_test = true: the
// sample VM's replica boots and the apply succeeds; a VG whose boot sector
// is zeroed replicates fine but its test launch fails, which fails the
// apply with vmrep's reason and leaves the launch step to run again.
func TestStackLaunchTest(t *testing.T) {
	bin := tofuBin(t)
	d := newDaemon(t)
	boot, data := sampleCopy(t, d.dir)
	d.ok("vg", "create", "vm", "--boot", boot, "--data", "data="+data)
	d.ok("snapshot", "create", "vm")
	cfg := tofutest.WriteCLIConfig(t)
	tr := &tofuRun{t: t, bin: bin,
		env: []string{"TF_CLI_CONFIG_FILE=" + cfg, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_INPUT=0"},
		vars: map[string]string{"vmrep_bin": filepath.Join(binDir, "vmrep"), "socket": d.socket,
			"replica_dir": filepath.Join(d.dir, "replica"), "launch_test": "true", "launch_timeout": "600s"}}
	stack := filepath.Join(d.dir, "stack")
	d.ok("stack", "generate", "vm@1", "--target", "local", "--out", stack)
	tr.initValidate(stack)
	out := tr.ok(stack, "apply", "-auto-approve", "-no-color")
	if !strings.Contains(out, "terraform_data.launch_test[0]") || !strings.Contains(out, "ready after") {
		t.Errorf("the apply did not run the test launch:\n%s", out)
	}

	// A boot volume with a zeroed boot sector.
	f, err := os.OpenFile(boot, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(make([]byte, 512), 0)
	f.Close()
	d.ok("snapshot", "create", "vm")
	tr.vars["replica_dir"] = filepath.Join(d.dir, "replica-broken")
	broken := filepath.Join(d.dir, "stack-broken")
	d.ok("stack", "generate", "vm@2", "--target", "local", "--out", broken)
	tr.initValidate(broken)
	out, code := tr.run(broken, "apply", "-auto-approve", "-no-color")
	if code == 0 || !strings.Contains(out, "did not boot") && !strings.Contains(out, "Boot failed") {
		t.Fatalf("apply of a replica that does not boot: exit %d, want a failure naming the boot failure\n%s", code, out)
	}
	// The replica itself was made; only the launch step is left to retry.
	out, code = tr.run(broken, "plan", "-detailed-exitcode", "-no-color")
	if code != 2 || !strings.Contains(out, "terraform_data.launch_test[0]") || strings.Contains(out, "terraform_data.snapshot will") {
		t.Errorf("plan after the failed launch: exit %d, want 2 with only the launch step to redo\n%s", code, out)
	}
}
