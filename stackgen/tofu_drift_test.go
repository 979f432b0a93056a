package stackgen

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeState writes the state.json a replica of p's snapshot holds and
// returns its path, for $FAKE_VMREP_STATE.
func fakeState(t *testing.T, dir string, p Plan) string {
	t.Helper()
	type vol struct {
		ID         string `json:"id"`
		Manifest   string `json:"manifest"`
		SnapshotID string `json:"snapshot_id"`
	}
	st := struct {
		Version    int    `json:"version"`
		VGID       string `json:"vg_id"`
		SnapshotID string `json:"snapshot_id"`
		Volumes    []vol  `json:"volumes"`
	}{Version: 1, VGID: p.VGID, SnapshotID: p.Snapshot.ID}
	for _, v := range p.Snapshot.Volumes {
		st.Volumes = append(st.Volumes, vol{ID: v.ID, Manifest: v.Manifest, SnapshotID: p.Snapshot.ID})
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state-"+p.Snapshot.ID+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeDelta writes a delta file at path and records its SHA-256 in p.
func fakeDelta(t *testing.T, p *Plan, path string) {
	t.Helper()
	body := []byte("a delta from " + p.Delta.BaseSnapshotID + " to " + p.Delta.TargetSnapshotID + "\n")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	p.Delta.File = path
	p.Delta.Files = []DeltaFile{{SHA256: hex.EncodeToString(sum[:])}}
}

// tofuCode runs tofu and returns its output and exit status.
func tofuCode(t *testing.T, bin, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	out, err := tofu(t, bin, dir, env, args...)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out, ee.ExitCode()
	} else if err != nil {
		t.Fatalf("tofu %v: %v", args, err)
	}
	return out, 0
}

// fakeOnPath puts the fake vmrep on PATH as "vmrep", so a stack runs with
// its default vmrep_bin.
func fakeOnPath(t *testing.T, work string) []string {
	t.Helper()
	bin := filepath.Join(work, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "vmrep"), []byte(fakeVMRep), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"FAKE_VMREP_LOG=" + filepath.Join(work, "calls.log")}
}

// TestTofuLocalDefaults applies a first and a delta stack as the README
// prints it: `tofu init && tofu apply -auto-approve`, no -var, stdin not a
// terminal. Both stacks default replica_dir to the same directory next to
// them, so the delta stack moves the replica the first one made.
func TestTofuLocalDefaults(t *testing.T) {
	bin := tofuBin(t)
	work := t.TempDir()
	env := fakeOnPath(t, work)
	v1, v2 := filepath.Join(work, "stack-v1"), filepath.Join(work, "stack-v2")
	p := deltaPlan()
	fakeDelta(t, &p, filepath.Join(work, "d12.vmdelta"))
	if err := Write(v1, firstPlan(), TargetLocal); err != nil {
		t.Fatal(err)
	}
	if err := Write(v2, p, TargetLocal); err != nil {
		t.Fatal(err)
	}
	replica := DefaultReplicaDir(p.VGName)
	for _, s := range []struct {
		dir  string
		plan Plan
	}{{v1, firstPlan()}, {v2, p}} {
		env := append(env, "FAKE_VMREP_STATE="+fakeState(t, work, s.plan))
		mustTofu(t, bin, s.dir, env, "init", "-no-color")
		mustTofu(t, bin, s.dir, env, "apply", "-auto-approve", "-no-color")
		if out, code := tofuCode(t, bin, s.dir, env, "plan", "-detailed-exitcode", "-no-color"); code != 0 {
			t.Fatalf("plan after apply in %s: exit %d, want 0\n%s", s.dir, code, out)
		}
	}
	calls := readCalls(t, filepath.Join(work, "calls.log"))
	wantCalls(t, calls,
		[]string{"replica", "create", "web@1", "--dir", replica, "--volume", "vol-aaaaaaaaaaaaaaaa"},
		[]string{"replica", "create", "web@1", "--dir", replica, "--volume", "vol-bbbbbbbbbbbbbbbb"},
		[]string{"delta", "apply", p.Delta.File, "--replica", replica, "--volume", "vol-bbbbbbbbbbbbbbbb"},
		[]string{"delta", "apply", p.Delta.File, "--replica", replica, "--volume", "vol-dddddddddddddddd"})
	// Relative to each stack directory: one replica beside both stacks.
	if _, err := os.Stat(filepath.Join(work, "replica-web", "state.json")); err != nil {
		t.Errorf("no replica next to the stacks: %v", err)
	}
}

// TestTofuLocalDrift changes the replica or the delta behind an applied
// stack's back: moved away, rolled back, a volume file gone or written, the
// delta overwritten. Each time the next plan must fail with a message
// naming the drift instead of saying "No changes"; once undone, or
// repaired with the command the message prints, a plan says it again.
func TestTofuLocalDrift(t *testing.T) {
	bin := tofuBin(t)
	work := t.TempDir()
	env := fakeOnPath(t, work)
	v1, v2 := filepath.Join(work, "stack-v1"), filepath.Join(work, "stack-v2")
	p := deltaPlan()
	fakeDelta(t, &p, filepath.Join(work, "d12.vmdelta"))
	state1, state2 := fakeState(t, work, firstPlan()), fakeState(t, work, p)
	for _, s := range []struct {
		dir   string
		plan  Plan
		state string
	}{{v1, firstPlan(), state1}, {v2, p, state2}} {
		if err := Write(s.dir, s.plan, TargetLocal); err != nil {
			t.Fatal(err)
		}
		env := append(env, "FAKE_VMREP_STATE="+s.state)
		mustTofu(t, bin, s.dir, env, "init", "-input=false", "-no-color")
		mustTofu(t, bin, s.dir, env, "apply", "-auto-approve", "-input=false", "-no-color")
	}
	replica := filepath.Join(work, "replica-web")
	plan := func(dir string) (string, int) {
		return tofuCode(t, bin, dir, env, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	}
	mustCopy := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustRename := func(from, to string) {
		t.Helper()
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	if out, code := plan(v2); code != 0 {
		t.Fatalf("clean plan: exit %d, want 0\n%s", code, out)
	}
	// stack-v1 sees that stack-v2 moved the replica on from web@1.
	if out, code := plan(v1); code != 1 || !strings.Contains(out, "is at snap-2222222222222222, not snap-1111111111111111 (web@1)") {
		t.Errorf("plan of stack-v1 on the replica at web@2: exit %d\n%s", code, out)
	}

	delta := p.Delta.File
	env2 := append(env, "FAKE_VMREP_STATE="+state2)
	volD := filepath.Join(replica, "vol-dddddddddddddddd.img")
	for _, c := range []struct {
		name        string
		drift, undo func()
		dir, msg    string
		repair      bool // undo leaves the seal broken: apply the repair the message prints
	}{
		{"moved", func() { mustRename(replica, replica+"-moved") }, func() { mustRename(replica+"-moved", replica) },
			v2, "replica ../replica-web has no readable state.json: it was moved or deleted", false},
		{"rolled back", func() { mustCopy(state1, filepath.Join(replica, "state.json")) }, func() {},
			v2, "replica ../replica-web is at snap-1111111111111111, not snap-2222222222222222 (web@2) that this stack moved it to (volumes not at it: vol-bbbbbbbbbbbbbbbb, vol-dddddddddddddddd)", true},
		{"delta overwritten", func() { mustRename(delta, delta+".orig"); mustCopy(state1, delta) }, func() { mustRename(delta+".orig", delta) },
			v2, "delta " + delta + " is missing or changed since the stack was generated", false},
		{"first stack, replica moved", func() { mustRename(replica, replica+"-moved") }, func() { mustRename(replica+"-moved", replica) },
			v1, "replica ../replica-web has no readable state.json", false},
		{"volume file deleted", func() { mustRename(volD, replica+"-d.img") }, func() { mustRename(replica+"-d.img", volD) },
			v2, "lacks the file of volume vol-dddddddddddddddd", true},
		{"volume file damaged", func() { appendByte(t, volD) }, func() {},
			v2, "volume files of replica ../replica-web changed since this stack wrote them (../replica-web/vol-dddddddddddddddd.img)", true},
	} {
		c.drift()
		out, code := plan(c.dir)
		if code != 1 || !strings.Contains(flat(out), c.msg) {
			t.Errorf("%s: plan exit %d, want 1 with %q\n%s", c.name, code, c.msg, out)
		}
		c.undo()
		if c.repair {
			args := repairArgs(out)
			if len(args) != 2 {
				t.Fatalf("%s: repair command %q in\n%s", c.name, args, out)
			}
			mustTofu(t, bin, v2, env2, append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, args...)...)
		}
		if out, code := plan(v2); code != 0 {
			t.Fatalf("%s undone: plan exit %d, want 0\n%s", c.name, code, out)
		}
	}
}

func appendByte(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// flat is tofu's output without the box drawn around diagnostics and with
// whitespace collapsed, so a wrapped message reads as one line.
func flat(out string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("│", " ", "╷", " ", "╵", " ").Replace(out)), " ")
}

// repairArgs are the -replace flags of the first repair command a drift
// message prints.
func repairArgs(out string) []string {
	f := flat(out)
	i := strings.Index(f, "tofu apply -replace=")
	if i < 0 {
		return nil
	}
	var args []string
	for _, a := range strings.Fields(f[i:])[2:] {
		if !strings.HasPrefix(a, "-replace=") {
			break
		}
		args = append(args, strings.TrimRight(a, ".\""))
	}
	return args
}
