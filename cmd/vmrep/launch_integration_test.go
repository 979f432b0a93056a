package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/testvm"
)

// needQEMU fails the test when QEMU is missing: a boot test that skips
// proves nothing (scripts/deps.sh installs it).
func needQEMU(t *testing.T) {
	t.Helper()
	for _, b := range []string{"qemu-system-x86_64", "qemu-img"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s is not installed (scripts/deps.sh installs it): %v", b, err)
		}
	}
}

// readyDisk writes a disk whose guest prints "vmrep-test: ready" on its
// console at once and then runs silently forever.
func readyDisk(t *testing.T, path string) {
	t.Helper()
	if err := testvm.ReadyDisk(path); err != nil {
		t.Fatal(err)
	}
}

// qemuFor lists the PIDs of QEMU processes whose command line names s.
func qemuFor(t *testing.T, s string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte("qemu-system")) || !bytes.Contains(cmdline, []byte(s)) {
			continue
		}
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// launchReplicaOf makes a VG of boot and data, snapshots it and writes the
// snapshot into a replica directory under d.dir.
func launchReplicaOf(t *testing.T, d *testDaemon, vg, boot, data, rep string) api.ReplicaResult {
	t.Helper()
	d.ok("vg", "create", vg, "--boot", boot, "--data", "data="+data)
	d.ok("snapshot", "create", vg)
	var r api.ReplicaResult
	d.okJSONResult(&r, "replica", "create", vg+"@1", "--dir", rep)
	return r
}

// TestLaunchWithoutReadiness boots a disk that never prints a line: the
// launch times out with the reason and exit 1; a launch whose CLI is
// killed goes on in the daemon, and canceling its job leaves no QEMU. A
// replica at another snapshot is refused before anything boots.
func TestLaunchWithoutReadiness(t *testing.T) {
	needQEMU(t)
	d := newDaemon(t)
	boot, data := filepath.Join(d.dir, "boot.img"), filepath.Join(d.dir, "data.img")
	readyDisk(t, boot)
	writeImage(t, data, 1<<20, 7)
	rep := filepath.Join(d.dir, "replica")
	launchReplicaOf(t, d, "spin", boot, data, rep)
	before := treeHash(t, rep)

	r := d.vmrep("launch", "--test", "spin@2", "--replica", rep)
	if r.code != 1 || !strings.Contains(r.stderr, "replica "+rep+" is at spin@1, not spin@2") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("launch at the wrong snapshot: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := d.vmrep("launch", "--replica", rep); r.code != 2 {
		t.Errorf("launch without --test: exit %d, want 2 (usage)", r.code)
	}

	// The guest's line is no login prompt: the default pattern times out.
	r = d.vmrep("launch", "--test", "spin@1", "--replica", rep, "--timeout", "5s", "--accel", "tcg")
	if r.code != 1 || !strings.Contains(r.stderr, "not ready after 5s") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("launch of a silent guest: exit %d, stderr %q; want 1 and one line saying it was not ready", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "NOT READY") || !strings.Contains(r.stdout, "console (last 1 lines)") ||
		!strings.Contains(r.stdout, "  vmrep-test: ready") || !strings.Contains(r.stdout, "Booting from Hard Disk") {
		t.Errorf("launch report lacks the verdict, the console or the firmware log:\n%s", r.stdout)
	}
	r = d.vmrep("launch", "--test", "spin@1", "--replica", rep, "--ready", "^vmrep-test: ready$")
	if r.code != 0 || !strings.Contains(r.stdout, "spin@1 in "+rep+": ready after") || !strings.Contains(r.stdout, "ready line: vmrep-test: ready") {
		t.Errorf("launch with --ready: exit %d\nstdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// The CLI killed mid-boot: the daemon owns the VM.
	cmd := exec.Command(filepath.Join(binDir, "vmrep"), "--socket", d.socket, "launch", "--test", "spin@1",
		"--replica", rep, "--timeout", "300s", "--accel", "tcg", "--ready", "never printed")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for len(qemuFor(t, rep)) == 0 {
		time.Sleep(100 * time.Millisecond)
		if cmd.ProcessState != nil {
			t.Fatal("vmrep launch exited before QEMU started")
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	cl := d.client(t)
	var job api.Job
	jobs, err := cl.ListJobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Kind == api.JobLaunch && !api.Final(j.State) {
			job = j
		}
	}
	if job.ID == "" || len(qemuFor(t, rep)) == 0 {
		t.Fatalf("after the CLI was killed: launch job %+v, QEMU %v; want both still running", job, qemuFor(t, rep))
	}
	if _, err := cl.CancelJob(context.Background(), job.ID); err != nil {
		t.Fatal(err)
	}
	for !api.Final(job.State) {
		time.Sleep(100 * time.Millisecond)
		if job, err = cl.GetJob(context.Background(), job.ID); err != nil {
			t.Fatal(err)
		}
	}
	if job.State != api.StateCanceled {
		t.Errorf("canceled launch job ended %s", job.State)
	}
	if pids := qemuFor(t, rep); len(pids) != 0 {
		t.Errorf("QEMU %v survived the canceled launch", pids)
	}
	if treeHash(t, rep) != before {
		t.Error("a test launch changed the replica")
	}
	var vms []api.Instance
	d.okJSON(&vms, "launch", "list")
	if len(vms) != 0 {
		t.Errorf("test launches left instances: %+v", vms)
	}

	// The daemon killed mid-boot: QEMU dies with it (Pdeathsig).
	cmd = exec.Command(filepath.Join(binDir, "vmrep"), "--socket", d.socket, "launch", "--test", "spin@1",
		"--replica", rep, "--timeout", "300s", "--accel", "tcg", "--ready", "never printed")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	for len(qemuFor(t, rep)) == 0 {
		time.Sleep(100 * time.Millisecond)
	}
	daemonPID := d.cmd.Process.Pid
	d.kill()
	for deadline := time.Now().Add(time.Minute); len(qemuFor(t, rep)) != 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("QEMU %v outlived the killed daemon by a minute", qemuFor(t, rep))
		}
	}
	if treeHash(t, rep) != before {
		t.Error("a test launch changed the replica")
	}
	// The next daemon's launch removes the killed one's VM directory.
	stale, _ := filepath.Glob(filepath.Join(os.TempDir(), "vmrep-vm-"+strconv.Itoa(daemonPID)+"-*"))
	if len(stale) == 0 {
		t.Fatal("the killed daemon left no VM directory: the test no longer tests its removal")
	}
	d.start()
	d.ok("launch", "--test", "spin@1", "--replica", rep, "--ready", "^vmrep-test: ready$")
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "vmrep-vm-"+strconv.Itoa(daemonPID)+"-*")); len(left) != 0 {
		t.Errorf("the killed daemon's VM directories are left: %v", left)
	}
}

// sampleVM builds (or finds cached) the sample VM and returns its boot
// and data images.
func sampleVM(t *testing.T) (boot, data string) {
	t.Helper()
	out, err := exec.Command("../../scripts/sample-vm.sh").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("scripts/sample-vm.sh: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("scripts/sample-vm.sh: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	boot, data = filepath.Join(dir, "boot.img"), filepath.Join(dir, "data.img")
	for _, p := range []string{boot, data} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("sample VM: %v", err)
		}
	}
	return boot, data
}

// TestLaunchSampleVM replicates the sample VM, boots the replica to
// readiness and reads, from inside the guest, a file of the data volume
// and the data volume's ID as its disk serial; the replica is unchanged.
// A replica whose boot sector is zeroed fails at the firmware, with the
// report, and is unchanged too.
func TestLaunchSampleVM(t *testing.T) {
	needQEMU(t)
	boot, data := sampleVM(t)
	hello, err := exec.Command("debugfs", "-R", "cat /hello.txt", data).Output()
	if err != nil || len(hello) == 0 {
		t.Fatalf("reading hello.txt from the sample's data image: %v", err)
	}
	d := newDaemon(t)
	rep := filepath.Join(d.dir, "replica")
	rr := launchReplicaOf(t, d, "vg", boot, data, rep)
	var dataID string
	for _, v := range rr.Volumes {
		if v.Role == "data" {
			dataID = v.ID
		}
	}
	before := treeHash(t, rep)

	var res api.LaunchResult
	// The sample's own readiness line comes once /data is mounted (its
	// fstab entry is nofail, so a login prompt may come first).
	d.okJSONResult(&res, "launch", "--test", "vg@1", "--replica", rep, "--timeout", "300s", "--ready", "vmrep-sample: ready",
		"--check", "cat /data/hello.txt", "--check", "cat /sys/block/vdb/serial")
	t.Logf("ready after %.1f s under %s (%s), firmware %s: %q", res.BootSeconds, res.Accel, res.AccelNote, res.Firmware, res.ReadyLine)
	if !res.Ready || res.Mode != "test" || len(res.Checks) != 2 {
		t.Fatalf("launch result: %+v", res)
	}
	if !strings.Contains(res.ReadyLine, "data="+dataID) {
		t.Errorf("ready line %q does not name the data volume %s", res.ReadyLine, dataID)
	}
	if res.Checks[0].Stdout != string(hello) {
		t.Errorf("hello.txt read in the guest: %q, on the host: %q", res.Checks[0].Stdout, hello)
	}
	if got := strings.TrimSpace(res.Checks[1].Stdout); got != dataID {
		t.Errorf("the data disk's serial in the guest: %q, want the volume ID %q", got, dataID)
	}
	if treeHash(t, rep) != before {
		t.Error("the test launch changed the replica")
	}

	bad := filepath.Join(d.dir, "bad")
	d.ok("replica", "create", "vg@1", "--dir", bad)
	f, err := os.OpenFile(filepath.Join(bad, rr.Volumes[0].ID+".img"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Volumes[0].Role != "boot" {
		t.Fatalf("first replica volume %+v is not the boot volume", rr.Volumes[0])
	}
	if _, err := f.WriteAt(make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before = treeHash(t, bad)
	r := d.vmrep("launch", "--test", "vg@1", "--replica", bad, "--timeout", "300s")
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 ||
		!(strings.Contains(r.stderr, "No bootable device") || strings.Contains(r.stderr, "Boot failed")) {
		t.Errorf("launch with a zeroed boot sector: exit %d, stderr %q; want 1 and the firmware's failure", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "firmware log") || !strings.Contains(r.stdout, "console (last") {
		t.Errorf("failed launch report lacks the firmware log or console tail:\n%s", r.stdout)
	}
	if treeHash(t, bad) != before {
		t.Error("the failed test launch changed the replica")
	}
}
