package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

func TestReplicaCreateCommand(t *testing.T) {
	h := newHistory(t)
	d := h.d
	rep := filepath.Join(d.dir, "replica")
	var res api.ReplicaResult
	d.okJSONResult(&res, "replica", "create", "web@2", "--dir", rep)
	if res.Dir != rep || res.Seq != 2 || len(res.Volumes) != 2 {
		t.Fatalf("replica result: %+v", res)
	}
	h.replicaAt(t, rep, 2)

	// One volume at a time, by name then by ID, the way stacks call it;
	// --volume after --socket, as the generated provisioners order flags.
	one := filepath.Join(d.dir, "one")
	if txt := d.ok("replica", "create", "web@1", "--dir", one, "--volume", "boot"); !strings.Contains(txt, "boot") {
		t.Errorf("replica create text:\n%s", txt)
	}
	if _, err := os.Stat(filepath.Join(one, h.dataID+".img")); !os.IsNotExist(err) {
		t.Errorf("--volume boot also wrote db: %v", err)
	}
	d.ok("replica", "create", "web@1", "--dir", one, "--socket", d.socket, "--volume", h.dataID)
	h.replicaAt(t, one, 1)

	for _, bad := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"replica", "create", "web@9", "--dir", rep}, 1, "snapshot web@9 does not exist"},
		{[]string{"replica", "create", "web@1", "--dir", rep, "--volume", "nope"}, 1, `no volume "nope"`},
		{[]string{"replica", "create", "web@1", "--dir", filepath.Join(d.store, "r")}, 1, "inside the store"},
		{[]string{"replica", "create", "web@1", "--dir", filepath.Join(d.dir, "a", "b")}, 1, "parent"},
		{[]string{"replica", "create", "web@1", "--dir", h.at[1]["boot"]}, 1, "not a directory"},
		{[]string{"replica", "create", "web@1"}, 2, "--dir"},
	} {
		r := d.vmrep(bad.args...)
		if r.code != bad.code || !strings.Contains(r.stderr, bad.msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("vmrep %v: exit %d, stderr %q; want %d and one line with %q", bad.args, r.code, r.stderr, bad.code, bad.msg)
		}
	}
}

func TestReplicaCreateRefusesRollback(t *testing.T) {
	h := newHistory(t)
	d := h.d
	rep := filepath.Join(d.dir, "replica")
	d.ok("replica", "create", "web@3", "--dir", rep)
	before := treeHash(t, rep)
	refused := func(args []string, msg string) {
		t.Helper()
		r := d.vmrep(args...)
		if r.code != 1 || !strings.Contains(r.stderr, msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("vmrep %v: exit %d, stderr %q; want 1 and one line with %q", args, r.code, r.stderr, msg)
		}
	}
	refused([]string{"replica", "create", "web@1", "--dir", rep},
		"replica "+rep+" is at web@3; creating web@1 there would roll it back; --at web@1 moves it there by one delta, or add --force")
	refused([]string{"replica", "create", "web@2", "--dir", rep, "--volume", "boot"}, "add --force")
	if treeHash(t, rep) != before {
		t.Fatal("a refused replica create changed the replica")
	}

	// Forward is refused too: deltas move replicas forward, create does not.
	old := filepath.Join(d.dir, "old")
	d.ok("replica", "create", "web@1", "--dir", old)
	refused([]string{"replica", "create", "web@2", "--dir", old}, "is at web@1; creating web@2 there")

	// Another VG's replica.
	d.makeVG("other", 1<<20, 5)
	d.ok("snapshot", "create", "other")
	refused([]string{"replica", "create", "other@1", "--dir", rep}, "holds volume group web")
	if treeHash(t, rep) != before {
		t.Fatal("a refused replica create changed the replica")
	}

	// The same snapshot again is fine; --force rolls back.
	d.ok("replica", "create", "web@3", "--dir", rep)
	h.replicaAt(t, rep, 3)
	d.ok("replica", "create", "web@1", "--dir", rep, "--force")
	h.replicaAt(t, rep, 1)
}
