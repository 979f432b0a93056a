package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

// recordsDump is every file under the store's records directory and its
// bytes, to show that a dry run changes nothing.
func recordsDump(t *testing.T, store string) map[string]string {
	t.Helper()
	out := map[string]string{}
	root := filepath.Join(store, "records")
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[strings.TrimPrefix(p, root)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no records under %s", root)
	}
	return out
}

func listedSeqs(t *testing.T, d *testDaemon, vg string) []uint64 {
	t.Helper()
	var snaps []api.Snapshot
	d.okJSON(&snaps, "snapshot", "list", vg)
	var seqs []uint64
	for _, s := range snaps {
		seqs = append(seqs, s.Seq)
	}
	return seqs
}

// decisions maps seq to reasons of kept snapshots and lists the removed.
func decisions(res api.ForgetResult) (map[uint64][]string, []uint64) {
	keep := map[uint64][]string{}
	for _, d := range res.Keep {
		keep[d.Seq] = d.Reasons
	}
	var remove []uint64
	for _, d := range res.Remove {
		remove = append(remove, d.Seq)
	}
	return keep, remove
}

func checkKeep(t *testing.T, what string, got map[uint64][]string, want map[uint64]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: kept %v, want %v", what, got, want)
	}
	for seq, reasons := range want {
		if r, ok := got[seq]; !ok || strings.Join(r, ", ") != reasons {
			t.Errorf("%s: web@%d kept for %q (%v), want %q", what, seq, r, ok, reasons)
		}
	}
}

// TestSnapshotForget runs forget against a real daemon: the policy's
// snapshots, the newest, a pinned one and one a replica is at are kept;
// a dry run leaves the store's records byte for byte; an empty policy is a
// usage error; a pin survives a restart, and so does its removal.
func TestSnapshotForget(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 1<<20, 11)
	for range 6 {
		d.ok("snapshot", "create", "web")
	}
	replica := filepath.Join(d.dir, "replica")
	d.ok("replica", "create", "web@2", "--dir", replica)
	d.ok("snapshot", "pin", "web@1", "--note", "golden image")

	for _, argv := range [][]string{{"snapshot", "forget", "web"}, {"snapshot", "forget", "web", "--dry-run"}} {
		r := d.vmrep(argv...)
		if r.code != 2 || !strings.Contains(r.stderr, "at least one --keep-* rule") {
			t.Errorf("%v: exit %d %q, want 2 and the rule missing", argv, r.code, r.stderr)
		}
	}
	if r := d.vmrep("snapshot", "forget", "web", "--keep-last", "-2"); r.code != 2 || !strings.Contains(r.stderr, "--keep-last -2") {
		t.Errorf("--keep-last -2: exit %d %q, want 2", r.code, r.stderr)
	}
	if r := d.vmrep("snapshot", "forget", "web", "--keep-within", "soon"); r.code != 1 || !strings.Contains(r.stderr, "within") {
		t.Errorf("bad --keep-within: exit %d %q", r.code, r.stderr)
	}

	before := recordsDump(t, d.store)
	var dry api.ForgetResult
	d.okJSON(&dry, "snapshot", "forget", "web", "--keep-last", "2", "--dry-run")
	keep, remove := decisions(dry)
	wantKeep := map[uint64]string{
		6: "newest, last #1",
		5: "last #2",
		2: "pinned: replica " + replica + " is at it",
		1: `pinned: explicit pin "golden image"`,
	}
	checkKeep(t, "dry run", keep, wantKeep)
	if !slices.Equal(remove, []uint64{4, 3}) || !dry.DryRun || dry.Policy != "last=2" {
		t.Errorf("dry run: remove %v, result %+v", remove, dry)
	}
	for _, dd := range dry.Remove {
		if dd.Removed {
			t.Errorf("dry run says web@%d was removed", dd.Seq)
		}
	}
	txt := d.ok("snapshot", "forget", "web", "--keep-last", "2", "--dry-run")
	for _, want := range []string{"policy last=2 on web: keep 4 snapshots, remove 2", "would remove", "dry run: nothing deleted", `explicit pin "golden image"`} {
		if !strings.Contains(txt, want) {
			t.Errorf("dry run text lacks %q:\n%s", want, txt)
		}
	}
	after := recordsDump(t, d.store)
	if len(before) != len(after) {
		t.Errorf("dry run changed the records: %d files before, %d after", len(before), len(after))
	}
	for name, b := range before {
		if after[name] != b {
			t.Errorf("dry run changed record %s", name)
		}
	}
	if got := listedSeqs(t, d, "web"); !slices.Equal(got, []uint64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("after the dry run: %v", got)
	}

	var res api.ForgetResult
	d.okJSON(&res, "snapshot", "forget", "web", "--keep-last", "2")
	keep, remove = decisions(res)
	checkKeep(t, "forget", keep, wantKeep)
	if !slices.Equal(remove, []uint64{4, 3}) || res.DryRun {
		t.Errorf("forget: remove %v", remove)
	}
	for _, dd := range res.Remove {
		if !dd.Removed {
			t.Errorf("forget did not remove web@%d", dd.Seq)
		}
	}
	if got := listedSeqs(t, d, "web"); !slices.Equal(got, []uint64{1, 2, 5, 6}) {
		t.Fatalf("after forget: %v", got)
	}
	// The newest and the pinned are all that is left.
	d.okJSON(&res, "snapshot", "forget", "web", "--keep-last", "1")
	if got := listedSeqs(t, d, "web"); !slices.Equal(got, []uint64{1, 2, 6}) {
		t.Fatalf("after forget --keep-last 1: %v (%+v)", got, res)
	}

	// A pinned snapshot needs --force to be deleted; list and show name the pin.
	if r := d.vmrep("snapshot", "delete", "web@1"); r.code != 1 || !strings.Contains(r.stderr, `explicit pin "golden image"`) {
		t.Errorf("delete of a pinned snapshot: exit %d %q", r.code, r.stderr)
	}
	checkPin := func(when string, pinned bool) {
		t.Helper()
		var s api.Snapshot
		d.okJSON(&s, "snapshot", "show", "web@1")
		if (s.Pin != nil) != pinned || (pinned && s.Pin.Note != "golden image") {
			t.Errorf("%s: show web@1 pin %+v, want pinned %v", when, s.Pin, pinned)
		}
		show := d.ok("snapshot", "show", "web@1")
		if strings.Contains(show, "pinned yes: golden image") != pinned {
			t.Errorf("%s: show web@1 text, want pinned %v:\n%s", when, pinned, show)
		}
		var snaps []api.Snapshot
		d.okJSON(&snaps, "snapshot", "list", "web")
		for _, sn := range snaps {
			if want := pinned && sn.Seq == 1; (sn.Pin != nil) != want {
				t.Errorf("%s: list web@%d pin %+v, want %v", when, sn.Seq, sn.Pin, want)
			}
		}
	}
	checkPin("pinned", true)
	d.stop()
	d.start()
	checkPin("pinned, after a restart", true)
	if r := d.vmrep("snapshot", "unpin", "web@6"); r.code != 1 || !strings.Contains(r.stderr, "not pinned") {
		t.Errorf("unpin of an unpinned snapshot: exit %d %q", r.code, r.stderr)
	}
	d.ok("snapshot", "unpin", "web@1")
	d.stop()
	d.start()
	checkPin("unpinned, after a restart", false)
	d.okJSON(&res, "snapshot", "forget", "web", "--keep-last", "1")
	keep, remove = decisions(res)
	if !slices.Equal(remove, []uint64{1}) {
		t.Errorf("forget after unpin removed %v, want web@1 (kept %v)", remove, keep)
	}
	if got := listedSeqs(t, d, "web"); !slices.Equal(got, []uint64{2, 6}) {
		t.Fatalf("after unpin and forget: %v", got)
	}
}

// TestSnapshotForgetOnServer: on a replication server, forget keeps the
// snapshot a materialized replica is at, however old, and lets it go once
// the replica has moved on; a pin on the server holds as it does anywhere.
func TestSnapshotForgetOnServer(t *testing.T) {
	s := newReplSetup(t)
	s.src.ok("snapshot", "create", "web")
	s.src.ok("snapshot", "create", "web")
	s.src.ok("snapshot", "create", "web")
	s.replicate("web@1", "--materialize", "web")
	for seq := 2; seq <= 4; seq++ {
		s.replicate("web@" + strconv.Itoa(seq))
	}
	if got := listedSeqs(t, s.srv, "web"); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Fatalf("server holds %v", got)
	}
	s.srv.ok("snapshot", "pin", "web@2")
	dir := filepath.Join(s.root, "web")
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	var res api.ForgetResult
	s.srv.okJSON(&res, "snapshot", "forget", "web", "--keep-last", "1")
	keep, remove := decisions(res)
	checkKeep(t, "server forget", keep, map[uint64]string{
		4: "newest, last #1",
		2: "pinned: explicit pin",
		1: "pinned: replica " + dir + " is at it",
	})
	if !slices.Equal(remove, []uint64{3}) {
		t.Errorf("server forget removed %v, want [3]", remove)
	}
	if r := s.srv.vmrep("snapshot", "delete", "web@1"); r.code != 1 || !strings.Contains(r.stderr, "is at it") {
		t.Errorf("server delete of the replica's snapshot: exit %d %q", r.code, r.stderr)
	}

	// The replica moves on to web@4; web@1 is free to go, web@2 stays pinned.
	s.replicate("web@4", "--materialize", "web")
	s.srv.okJSON(&res, "snapshot", "forget", "web", "--keep-last", "1")
	keep, remove = decisions(res)
	checkKeep(t, "server forget after the replica moved", keep, map[uint64]string{
		4: "newest, pinned: replica " + dir + " is at it, last #1",
		2: "pinned: explicit pin",
	})
	if !slices.Equal(remove, []uint64{1}) {
		t.Errorf("server forget after the replica moved removed %v, want [1]", remove)
	}
	if got := listedSeqs(t, s.srv, "web"); !slices.Equal(got, []uint64{2, 4}) {
		t.Errorf("server holds %v after forget", got)
	}
	// A forced delete of a pinned snapshot takes its pin along: the file
	// names no snapshot that is gone.
	s.srv.ok("snapshot", "delete", "web@2", "--force")
	if b, err := os.ReadFile(filepath.Join(s.srv.store, "pins.json")); err != nil || strings.Contains(string(b), "snapshot_id") {
		t.Errorf("pins.json after a forced delete: %v\n%s", err, b)
	}
}
