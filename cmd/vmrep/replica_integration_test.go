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
