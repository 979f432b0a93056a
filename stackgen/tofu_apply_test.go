package stackgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTofuApplyLocal applies a first stack and a delta stack with a fake
// vmrep and checks the commands the provisioners run, that a second apply
// plans no change, and that a refused delta apply fails tofu and records
// nothing.
func TestTofuApplyLocal(t *testing.T) {
	bin := tofuBin(t)
	work := t.TempDir()
	fake := filepath.Join(work, "fake vmrep")
	if err := os.WriteFile(fake, []byte(fakeVMRep), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(work, "calls.log")
	replica := filepath.Join(work, "replica dir")
	env := []string{"FAKE_VMREP_LOG=" + log, "FAKE_VMREP_STATE=" + fakeState(t, work, firstPlan())}
	vars := []string{"-var", "vmrep_bin=" + fake, "-var", "replica_dir=" + replica, "-var", "socket=/run/vm rep.sock"}
	apply := func(dir string) (string, error) {
		mustTofu(t, bin, dir, env, "init", "-input=false", "-no-color")
		return tofu(t, bin, dir, env, append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, vars...)...)
	}
	sock := []string{"--socket", "/run/vm rep.sock"}

	v1 := filepath.Join(work, "stack-v1")
	if err := Write(v1, firstPlan(), TargetLocal); err != nil {
		t.Fatal(err)
	}
	if out, err := apply(v1); err != nil {
		t.Fatalf("apply stack-v1: %v\n%s", err, out)
	}
	create := func(vol string) []string {
		return append(append([]string{"replica", "create", "web@1", "--dir", replica}, sock...), "--volume", vol)
	}
	wantCalls(t, readCalls(t, log), create("vol-aaaaaaaaaaaaaaaa"), create("vol-bbbbbbbbbbbbbbbb"))
	if out := mustTofu(t, bin, v1, env, "output", "-raw", "snapshot_id"); out != "snap-1111111111111111" {
		t.Errorf("snapshot_id output = %q", out)
	}

	// A second apply plans no change: -detailed-exitcode is 0 only then.
	mustTofu(t, bin, v1, env, append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, vars...)...)
	if out, err := apply(v1); err != nil {
		t.Fatalf("second apply: %v\n%s", err, out)
	}
	if n := len(readCalls(t, log)); n != 2 {
		t.Fatalf("second apply ran vmrep again: %d calls", n)
	}

	// The delta stack moves the replica: one delta apply per changed volume.
	p := deltaPlan()
	fakeDelta(t, &p, filepath.Join(work, "web 1-2.vmdelta"))
	env[1] = "FAKE_VMREP_STATE=" + fakeState(t, work, p)
	v2 := filepath.Join(work, "stack-v2")
	if err := Write(v2, p, TargetLocal); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	if out, err := apply(v2); err != nil {
		t.Fatalf("apply stack-v2: %v\n%s", err, out)
	}
	deltaApply := func(vol string) []string {
		return append(append([]string{"delta", "apply", p.Delta.File, "--replica", replica}, sock...), "--volume", vol)
	}
	wantCalls(t, readCalls(t, log), deltaApply("vol-bbbbbbbbbbbbbbbb"), deltaApply("vol-dddddddddddddddd"))
	mustTofu(t, bin, v2, env, append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, vars...)...)

	// A replica at the wrong snapshot: vmrep refuses, tofu fails with its
	// message, stops at the first volume and records no snapshot.
	v2b := filepath.Join(work, "stack-v2-again")
	if err := Write(v2b, p, TargetLocal); err != nil {
		t.Fatal(err)
	}
	const refusal = "vmrep: replica is at snap-2222222222222222, delta base is snap-1111111111111111"
	if err := os.WriteFile(filepath.Join(replica, "refuse"), []byte(refusal+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	out, err := apply(v2b)
	if err == nil {
		t.Fatalf("apply on a replica at the wrong snapshot succeeded:\n%s", out)
	}
	if !strings.Contains(out, refusal) {
		t.Errorf("tofu output lacks vmrep's error:\n%s", out)
	}
	wantCalls(t, readCalls(t, log), deltaApply("vol-bbbbbbbbbbbbbbbb"))
	state := mustTofu(t, bin, v2b, env, "state", "list")
	if strings.Contains(state, "terraform_data.snapshot") {
		t.Errorf("a failed apply recorded the snapshot:\n%s", state)
	}
}
