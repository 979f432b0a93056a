package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplicaCreateClearsJournal: a replica left in the middle of applying
// a delta that cannot finish (its journal names another delta) refuses the
// genuine delta with a line that names the way out, and replica create
// --force writes the snapshot over it, journal and stages gone, after
// which the genuine delta applies.
func TestReplicaCreateClearsJournal(t *testing.T) {
	h := newHistory(t)
	d := h.d
	rep := filepath.Join(d.dir, "replica")
	d.ok("replica", "create", "web@1", "--dir", rep)
	d12 := filepath.Join(d.dir, "d12.vmdelta")
	d.ok("delta", "export", "web@1", "web@2", "-o", d12)
	j, err := json.Marshal(map[string]any{"delta": strings.Repeat("ab", 32), "base": h.snapID(t, 1),
		"target": "snap-elsewhere", "volumes": []string{h.bootID}})
	if err != nil {
		t.Fatal(err)
	}
	stage := filepath.Join(rep, "staging-"+h.bootID+".copy")
	for p, b := range map[string][]byte{filepath.Join(rep, "applying.json"): j, stage: []byte("stale")} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := d.vmrep("delta", "apply", d12, "--replica", rep)
	if r.code != 1 || !strings.Contains(r.stderr, "replica create --force") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("apply over another delta's journal: exit %d, stderr %q", r.code, r.stderr)
	}
	d.ok("replica", "create", "web@1", "--dir", rep, "--force")
	for _, p := range []string{filepath.Join(rep, "applying.json"), stage} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("replica create --force left %s: %v", filepath.Base(p), err)
		}
	}
	d.ok("delta", "apply", d12, "--replica", rep, "--verify", "full")
	h.replicaAt(t, rep, 2)
}
