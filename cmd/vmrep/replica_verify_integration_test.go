package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// replicaCheck is one volume of a replica verify report, as the JSON says.
type replicaCheck struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Against        string `json:"against"`
	OK             bool   `json:"ok"`
	MismatchOffset int64  `json:"mismatch_offset"`
	MismatchLength int64  `json:"mismatch_length"`
}

// verifyReplicaJSON runs replica verify --json and returns its report and
// exit code.
func verifyReplicaJSON(t *testing.T, d *testDaemon, dir string) ([]replicaCheck, int) {
	t.Helper()
	r := d.vmrep("replica", "verify", dir, "--json")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var ev struct {
		Result struct {
			OK      bool           `json:"ok"`
			Volumes []replicaCheck `json:"volumes"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &ev); err != nil {
		t.Fatalf("replica verify --json: exit %d, %v\nstdout: %s\nstderr: %s", r.code, err, r.stdout, r.stderr)
	}
	if ev.Result.OK != (r.code == 0) {
		t.Errorf("replica verify --json: ok %v but exit %d", ev.Result.OK, r.code)
	}
	return ev.Result.Volumes, r.code
}

func TestReplicaVerifyAndShow(t *testing.T) {
	h := newHistory(t)
	d := h.d
	rep := filepath.Join(d.dir, "replica")
	d.ok("replica", "create", "web@3", "--dir", rep)

	out := d.ok("replica", "show", rep)
	t.Logf("replica show:\n%s", out)
	for _, want := range []string{"web@3", "boot", "db", h.bootID, h.dataID, "state.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("replica show lacks %q:\n%s", want, out)
		}
	}
	var shown struct {
		VGName  string `json:"vg_name"`
		Seq     uint64 `json:"seq"`
		Volumes []struct {
			Name string `json:"name"`
			File string `json:"file"`
		} `json:"volumes"`
	}
	d.okJSON(&shown, "replica", "show", rep)
	if shown.VGName != "web" || shown.Seq != 3 || len(shown.Volumes) != 2 || shown.Volumes[0].File == "" {
		t.Errorf("replica show --json: %+v", shown)
	}

	if out := d.ok("replica", "verify", rep); strings.Count(out, "OK") != 2 {
		t.Fatalf("replica verify of a good replica:\n%s", out)
	}

	d23 := filepath.Join(d.dir, "d23.vmdelta")
	d.ok("delta", "export", "web@2", "web@3", "-o", d23)
	if out := d.ok("delta", "apply", d23, "--replica", rep, "--verify", "full"); !strings.Contains(out, "verified 2 volumes") {
		t.Errorf("apply --verify full on a replica at the target:\n%s", out)
	}

	// One flipped byte in the boot volume's data.
	const at = 1<<20 + 4321
	bootFile := filepath.Join(rep, h.bootID+".img")
	flip := func() {
		f, err := os.OpenFile(bootFile, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b := make([]byte, 1)
		f.ReadAt(b, at)
		b[0] ^= 0x5a
		if _, err := f.WriteAt(b, at); err != nil {
			t.Fatal(err)
		}
	}
	flip()
	checkFlipped := func(against string, offsetKnown bool) {
		t.Helper()
		r := d.vmrep("replica", "verify", rep)
		if r.code != 1 || !strings.Contains(r.stdout, "boot") || !strings.Contains(r.stdout, "MISMATCH") ||
			strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("replica verify after a flip: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		t.Logf("replica verify against the %s:\n%s%s", against, r.stdout, r.stderr)
		checks, code := verifyReplicaJSON(t, d, rep)
		if code != 1 || len(checks) != 2 {
			t.Fatalf("replica verify --json after a flip: exit %d, %+v", code, checks)
		}
		for _, c := range checks {
			if c.Against != against {
				t.Errorf("volume %s verified against %q, want %q", c.Name, c.Against, against)
			}
			switch {
			case c.Name == "db" && !c.OK:
				t.Errorf("db reported bad: %+v", c)
			case c.Name == "boot" && c.OK:
				t.Errorf("boot reported good after a flip: %+v", c)
			case c.Name == "boot" && offsetKnown && (c.MismatchOffset > at || c.MismatchOffset+c.MismatchLength <= at):
				t.Errorf("boot mismatch at %d+%d does not cover the flipped byte at %d", c.MismatchOffset, c.MismatchLength, at)
			}
		}
	}
	checkFlipped("snapshot", true)

	// apply --verify full on a replica already at the target verifies it.
	if r := d.vmrep("delta", "apply", d23, "--replica", rep, "--verify", "full"); r.code != 1 || !strings.Contains(r.stderr, "boot") {
		t.Errorf("apply --verify full on a damaged replica at the target: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// Without the snapshot, and without its pages after gc, the digest of
	// the volume recorded in state.json still finds the flip.
	d.ok("snapshot", "delete", "web@3", "--force") // the replica pins it
	d.ok("gc")
	checkFlipped("state", false)
	flip() // back to the original byte
	if out := d.ok("replica", "verify", rep); strings.Count(out, "OK") != 2 {
		t.Fatalf("replica verify against state.json of a good replica:\n%s", out)
	}
}
