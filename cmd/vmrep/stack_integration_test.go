package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/testdisk"
	"github.com/vmrep/vmrep/internal/tofutest"
)

// stackPlan is the part of a stack's plan.json the tests check.
type stackPlan struct {
	Target string `json:"target"`
	Plan   struct {
		VGID     string `json:"vg_id"`
		Snapshot struct {
			ID      string `json:"id"`
			Volumes []struct {
				ID       string `json:"id"`
				Manifest string `json:"manifest"`
			} `json:"volumes"`
		} `json:"snapshot"`
		Delta *struct {
			File   string `json:"file"`
			Digest string `json:"digest"`
			Files  []struct {
				Name   string `json:"name"`
				SHA256 string `json:"sha256"`
			} `json:"files"`
		} `json:"delta"`
	} `json:"plan"`
}

func readStackPlan(t *testing.T, dir string) stackPlan {
	t.Helper()
	for _, f := range []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md", "plan.json"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Fatalf("stack %s: %s missing or empty (%v)", dir, f, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p stackPlan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s/plan.json: %v", dir, err)
	}
	return p
}

// wantManifests checks the plan names every volume of snap by its manifest.
func wantManifests(t *testing.T, p stackPlan, snap api.Snapshot) {
	t.Helper()
	if p.Plan.Snapshot.ID != snap.ID || len(p.Plan.Snapshot.Volumes) != len(snap.Volumes) {
		t.Fatalf("plan snapshot %s with %d volumes, want %s with %d", p.Plan.Snapshot.ID,
			len(p.Plan.Snapshot.Volumes), snap.ID, len(snap.Volumes))
	}
	for i, v := range snap.Volumes {
		if got := p.Plan.Snapshot.Volumes[i]; got.ID != v.VolumeID || got.Manifest != v.Manifest {
			t.Errorf("plan volume %d: %s %s, want %s %s", i, got.ID, got.Manifest, v.VolumeID, v.Manifest)
		}
	}
}

func TestStackGenerateCommand(t *testing.T) {
	h := newHistory(t)
	d := h.d
	var s1, s2 api.Snapshot
	d.okJSON(&s1, "snapshot", "show", "web@1")
	d.okJSON(&s2, "snapshot", "show", "web@2")
	dl := filepath.Join(d.dir, "d12.vmdelta")
	var ex api.DeltaExportResult
	d.okJSONResult(&ex, "delta", "export", "web@1", "web@2", "-o", dl)
	split := filepath.Join(d.dir, "d12-split")
	var exs api.DeltaExportResult
	d.okJSONResult(&exs, "delta", "export", "web@1", "web@2", "-o", split, "--split")
	idx, err := os.ReadFile(filepath.Join(split, "index.vmdelta"))
	if err != nil {
		t.Fatal(err)
	}

	for _, target := range []string{"local", "oci"} {
		v1 := filepath.Join(d.dir, target+"-v1")
		if txt := d.ok("stack", "generate", "web@1", "--target", target, "--out", v1); !strings.Contains(txt, "replicates web@1") {
			t.Errorf("stack generate text:\n%s", txt)
		}
		p := readStackPlan(t, v1)
		wantManifests(t, p, s1)
		if p.Target != target || p.Plan.VGID != h.vg.ID || p.Plan.Delta != nil {
			t.Errorf("%s first stack plan: %+v", target, p)
		}
		for _, c := range []struct{ delta, digest, rng string }{
			{dl, ex.Digest, "web@1..web@2"}, {split, exs.Digest, "web@1..2"}} {
			v2 := filepath.Join(d.dir, target+"-v2-"+filepath.Base(c.delta))
			var res api.StackResult
			d.okJSON(&res, "stack", "generate", c.rng, "--delta", c.delta, "--target", target, "--out", v2)
			p := readStackPlan(t, v2)
			wantManifests(t, p, s2)
			if p.Plan.Delta == nil || p.Plan.Delta.Digest != c.digest || p.Plan.Delta.File != c.delta || res.DeltaDigest != c.digest {
				t.Fatalf("%s delta stack of %s: plan delta %+v, result %+v", target, c.delta, p.Plan.Delta, res)
			}
			// The SHA-256 of every file of the delta, which the local
			// stack's plan compares: the file, or the index and each part.
			want := map[string]bool{"": true}
			if c.delta == split {
				ents, err := os.ReadDir(split)
				if err != nil {
					t.Fatal(err)
				}
				want = map[string]bool{}
				for _, e := range ents {
					want[e.Name()] = true
				}
			}
			for _, f := range p.Plan.Delta.Files {
				b, err := os.ReadFile(filepath.Join(c.delta, f.Name))
				if err != nil || sha256Hex(b) != f.SHA256 || !want[f.Name] {
					t.Errorf("%s delta stack of %s: file %q sha256 %s (%v)", target, c.delta, f.Name, f.SHA256, err)
				}
				delete(want, f.Name)
			}
			if len(want) != 0 {
				t.Errorf("%s delta stack of %s: plan lacks the SHA-256 of %v", target, c.delta, want)
			}
		}
	}
	// A split delta's digest is that of its index.
	if got := blake3Hex(idx); got != exs.Digest {
		t.Errorf("split digest %s, BLAKE3 of the index %s", exs.Digest, got)
	}

	out := filepath.Join(d.dir, "bad")
	for _, bad := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"stack", "generate", "web@1..web@2", "--out", out}, 2, "--delta"},
		{[]string{"stack", "generate", "web@2", "--delta", dl, "--out", out}, 2, "--delta"},
		{[]string{"stack", "generate", "web@1", "--target", "aws", "--out", out}, 2, "want local or oci"},
		{[]string{"stack", "generate", "web@1", "--target", "local"}, 2, "--out"},
		{[]string{"stack", "generate", "web@1..web@3", "--delta", dl, "--out", out}, 1, "not web@1 to web@3"},
		{[]string{"stack", "generate", "web@1", "--out", filepath.Join(d.store, "s")}, 1, "inside the store"},
		{[]string{"stack", "generate", "web@1..web@2", "--delta", h.at[1]["boot"], "--out", out}, 1, "malformed delta"},
	} {
		r := d.vmrep(bad.args...)
		if r.code != bad.code || !strings.Contains(r.stderr, bad.msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("vmrep %v: exit %d, stderr %q; want %d and one line with %q", bad.args, r.code, r.stderr, bad.code, bad.msg)
		}
	}
}

// tofuBin finds OpenTofu where make deps puts it (GOPATH/bin, added to
// the test's PATH, where the stacks' provisioners also find vmrep's
// provider), failing in CI and skipping elsewhere when it is missing.
func tofuBin(t *testing.T) string {
	t.Helper()
	gobin := filepath.Join(build.Default.GOPATH, "bin")
	t.Setenv("PATH", os.Getenv("PATH")+string(os.PathListSeparator)+gobin)
	testdisk.Need(t, "tofu")
	bin, err := exec.LookPath("tofu")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// tofuRun runs OpenTofu in dir, offline, with a CLI config that installs
// the vmrep provider from a local mirror; the stacks' provisioners run the
// real vmrep against the test daemon.
type tofuRun struct {
	t    *testing.T
	bin  string
	env  []string
	vars map[string]string
}

func (tr *tofuRun) run(dir string, args ...string) (string, int) {
	tr.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tr.bin, append([]string{"-chdir=" + dir}, args...)...)
	cmd.Env = append(os.Environ(), tr.env...)
	for k, v := range tr.vars {
		cmd.Env = append(cmd.Env, "TF_VAR_"+k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		tr.t.Fatalf("tofu %v: %v", args, err)
	}
	return out.String(), 0
}

func (tr *tofuRun) ok(dir string, args ...string) string {
	tr.t.Helper()
	out, code := tr.run(dir, args...)
	if code != 0 {
		tr.t.Fatalf("tofu %s in %s: exit %d\n%s", strings.Join(args, " "), dir, code, out)
	}
	return out
}

func (tr *tofuRun) initValidate(dir string) {
	tr.t.Helper()
	tr.ok(dir, "init", "-input=false", "-no-color")
	tr.ok(dir, "validate", "-no-color")
}

// TestStackTofuEndToEnd applies generated local stacks with OpenTofu and
// the real vmrep and vmrepd: stack-v1 makes a replica at web@1, stack-v2
// moves it to web@2, a second plan shows no change, and a 2->3 stack on a
// replica still at web@1 fails with vmrep's error and changes nothing.
func TestStackTofuEndToEnd(t *testing.T) {
	bin := tofuBin(t)
	h := newHistory(t)
	d := h.d
	cfg := tofutest.WriteCLIConfig(t)
	replica := filepath.Join(d.dir, "replica")
	tr := &tofuRun{t: t, bin: bin,
		env:  []string{"TF_CLI_CONFIG_FILE=" + cfg, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_INPUT=0"},
		vars: map[string]string{"vmrep_bin": filepath.Join(binDir, "vmrep"), "socket": d.socket, "replica_dir": replica}}

	v1 := filepath.Join(d.dir, "stack-v1")
	d.ok("stack", "generate", "web@1", "--target", "local", "--out", v1)
	tr.initValidate(v1)
	tr.ok(v1, "apply", "-auto-approve", "-no-color")
	h.replicaAt(t, replica, 1)

	dl := filepath.Join(d.dir, "d12.vmdelta")
	d.ok("delta", "export", "web@1", "web@2", "-o", dl)
	v2 := filepath.Join(d.dir, "stack-v2")
	d.ok("stack", "generate", "web@1..web@2", "--delta", dl, "--target", "local", "--out", v2)
	tr.initValidate(v2)
	tr.ok(v2, "apply", "-auto-approve", "-no-color")
	h.replicaAt(t, replica, 2)
	if out, code := tr.run(v2, "plan", "-detailed-exitcode", "-no-color"); code != 0 {
		t.Errorf("plan after apply: exit %d, want 0 (no change)\n%s", code, out)
	}

	// 2->3 on a replica still at web@1: vmrep refuses, tofu fails, the
	// replica's files stay as they were.
	stale := filepath.Join(d.dir, "replica-stale")
	d.ok("replica", "create", "web@1", "--dir", stale)
	before := treeHash(t, stale)
	d23 := filepath.Join(d.dir, "d23")
	d.ok("delta", "export", "web@2", "web@3", "-o", d23, "--split")
	v3 := filepath.Join(d.dir, "stack-v3")
	d.ok("stack", "generate", "web@2..web@3", "--delta", d23, "--target", "local", "--out", v3)
	tr.initValidate(v3)
	tr.vars["replica_dir"] = stale
	out, code := tr.run(v3, "apply", "-auto-approve", "-no-color")
	if code == 0 || !strings.Contains(out, "vmrep: ") || !strings.Contains(out, "not at the delta's base") {
		t.Errorf("apply 2->3 on a replica at web@1: exit %d\n%s", code, out)
	}
	if treeHash(t, stale) != before {
		t.Error("the refused stack changed the replica")
	}
	// The same stack on the replica at web@2 brings it to web@3.
	tr.vars["replica_dir"] = replica
	tr.ok(v3, "apply", "-auto-approve", "-no-color")
	h.replicaAt(t, replica, 3)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func blake3Hex(b []byte) string {
	s := blake3.Sum256(b)
	return hex.EncodeToString(s[:])
}

// defaultStacks generates stack-v1 (web@1) and stack-v2 (web@1..web@2)
// side by side and applies both as the README prints it: tofu init and
// apply -auto-approve, stdin not a terminal, no -var; vmrep from PATH and
// the daemon from VMREP_SOCKET. It returns the stacks and the replica.
func defaultStacks(t *testing.T, h *history) (tr *tofuRun, v1, v2, replica string) {
	t.Helper()
	bin := tofuBin(t)
	t.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	d := h.d
	cfg := tofutest.WriteCLIConfig(t)
	tr = &tofuRun{t: t, bin: bin, env: []string{"TF_CLI_CONFIG_FILE=" + cfg, "CHECKPOINT_DISABLE=1",
		"VMREP_SOCKET=" + d.socket}}
	v1, v2 = filepath.Join(d.dir, "stack-v1"), filepath.Join(d.dir, "stack-v2")
	dl := filepath.Join(d.dir, "d12.vmdelta")
	d.ok("delta", "export", "web@1", "web@2", "-o", dl)
	d.ok("stack", "generate", "web@1", "--target", "local", "--out", v1)
	d.ok("stack", "generate", "web@1..web@2", "--delta", dl, "--target", "local", "--out", v2)
	replica = filepath.Join(d.dir, "replica-web")
	tr.ok(v1, "init", "-no-color")
	tr.ok(v1, "apply", "-auto-approve", "-no-color")
	h.replicaAt(t, replica, 1)
	tr.ok(v2, "init", "-no-color")
	tr.ok(v2, "apply", "-auto-approve", "-no-color")
	return tr, v1, v2, replica
}

// TestStackTofuDefaults: issue 12 point 4. The stacks apply without a
// terminal and without -var, and stack-v2 moves the replica stack-v1 made.
func TestStackTofuDefaults(t *testing.T) {
	h := newHistory(t)
	tr, _, v2, replica := defaultStacks(t, h)
	h.replicaAt(t, replica, 2)
	if out, code := tr.run(v2, "plan", "-detailed-exitcode", "-no-color"); code != 0 {
		t.Errorf("plan after apply: exit %d, want 0 (no change)\n%s", code, out)
	}
}

// TestStackTofuDrift: issue 12 point 5, with the real vmrep. After the
// stacks applied, each change behind their back makes the next plan fail
// with a message naming it, undoing it gives "No changes" again, and the
// repair the rollback message prints brings the replica back to web@2.
func TestStackTofuDrift(t *testing.T) {
	h := newHistory(t)
	d := h.d
	tr, v1, v2, replica := defaultStacks(t, h)
	plan := func(dir string) (string, int) { return tr.run(dir, "plan", "-detailed-exitcode", "-no-color") }
	mv := func(from, to string) {
		t.Helper()
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	if out, code := plan(v2); code != 0 {
		t.Fatalf("clean plan: exit %d, want 0\n%s", code, out)
	}
	dl := filepath.Join(d.dir, "d12.vmdelta")
	vol := filepath.Join(replica, h.dataID+".img")
	for _, c := range []struct {
		name        string
		drift, undo func()
		dir, msg    string
		repair      bool
	}{
		{"moved away", func() { mv(replica, replica+"-moved") }, func() { mv(replica+"-moved", replica) },
			v2, "has no readable state.json: it was moved or deleted", false},
		{"delta overwritten", func() {
			mv(dl, dl+".orig")
			d.ok("delta", "export", "web@2", "web@3", "-o", dl)
		}, func() { mv(dl+".orig", dl) }, v2, "is missing or changed since the stack was generated", false},
		{"first stack after the move to web@2", func() {}, func() {}, v1, "not at it", false},
		// Moving the file back changes its ctime: the seal stays broken
		// until the printed repair (a delta apply with nothing to write).
		{"volume file gone", func() { mv(vol, vol+".away") }, func() { mv(vol+".away", vol) },
			v2, "lacks the file of volume " + h.dataID, true},
	} {
		c.drift()
		out, code := plan(c.dir)
		if code != 1 || !strings.Contains(flatTofu(out), c.msg) {
			t.Errorf("%s: plan exit %d, want 1 with %q\n%s", c.name, code, c.msg, out)
		}
		c.undo()
		if c.repair {
			tr.ok(v2, append([]string{"apply", "-auto-approve", "-no-color"}, repairFlags(flatTofu(out))...)...)
		}
		if out, code := plan(v2); code != 0 {
			t.Fatalf("%s undone: plan exit %d, want 0\n%s", c.name, code, out)
		}
	}

	// Rolled back to web@1: the plan says so and prints the repair, which
	// re-applies the delta.
	d.ok("replica", "create", "web@1", "--dir", replica, "--force") // a rollback needs --force
	out, code := plan(v2)
	f := flatTofu(out)
	if code != 1 || !strings.Contains(f, "is at "+h.snapID(t, 1)+", not "+h.snapID(t, 2)+" (web@2)") {
		t.Fatalf("rolled back: plan exit %d\n%s", code, out)
	}
	flags := repairFlags(f)
	if len(flags) == 0 {
		t.Fatalf("no repair command in\n%s", out)
	}
	tr.ok(v2, append([]string{"apply", "-auto-approve", "-no-color"}, flags...)...)
	h.replicaAt(t, replica, 2)
	if out, code := plan(v2); code != 0 {
		t.Fatalf("plan after the repair: exit %d, want 0\n%s", code, out)
	}

	// A damaged byte in a volume: the seal on the volume files sees it
	// without reading them; the printed repair rebuilds the replica.
	testdisk.FlipByte(t, vol, 4096)
	out, code = plan(v2)
	f = flatTofu(out)
	if code != 1 || !strings.Contains(f, "changed since this stack wrote them (../replica-web/"+h.dataID+".img)") {
		t.Fatalf("damaged volume: plan exit %d\n%s", code, out)
	}
	if !strings.Contains(f, "Rebuild it with: vmrep replica create web@2 --dir ../replica-web && tofu apply -replace=") {
		t.Fatalf("no rebuild command in\n%s", out)
	}
	d.ok("replica", "create", "web@2", "--dir", replica)
	h.replicaAt(t, replica, 2)
	tr.ok(v2, append([]string{"apply", "-auto-approve", "-no-color"}, repairFlags(f)...)...)
	if out, code := plan(v2); code != 0 {
		t.Fatalf("plan after the rebuild: exit %d, want 0\n%s", code, out)
	}
}

// flatTofu is tofu's output without the box around diagnostics and with
// whitespace collapsed, so a wrapped message reads as one line.
func flatTofu(out string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("│", " ", "╷", " ", "╵", " ").Replace(out)), " ")
}

// repairFlags are the -replace flags of the first repair command in a
// flattened drift message.
func repairFlags(f string) []string {
	i := strings.Index(f, "tofu apply -replace=")
	if i < 0 {
		return nil
	}
	var flags []string
	for _, a := range strings.Fields(f[i:])[2:] {
		if !strings.HasPrefix(a, "-replace=") {
			break
		}
		flags = append(flags, strings.TrimRight(a, `."`))
	}
	return flags
}

func (h *history) snapID(t *testing.T, seq int) string {
	t.Helper()
	var s api.Snapshot
	h.d.okJSON(&s, "snapshot", "show", fmt.Sprintf("web@%d", seq))
	return s.ID
}
