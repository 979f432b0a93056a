package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
)

// vg set changes the hooks a snapshot runs, validates what it is given, is
// refused while a snapshot holds the VG, and vg show prints the hooks.
func TestVGSetHooks(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 2<<20, 7)
	trail := filepath.Join(d.dir, "trail")
	pre, post := "echo pre >>"+trail, "echo post >>"+trail

	out := d.ok("vg", "set", "web", "--pre-snapshot", pre, "--post-snapshot", post, "--hook-timeout", "30s")
	for _, want := range []string{"pre-snapshot hook: " + pre, "post-snapshot hook: " + post, "hook timeout: 30s"} {
		if !strings.Contains(out, want) {
			t.Errorf("vg set output lacks %q:\n%s", want, out)
		}
	}
	show := d.ok("vg", "show", "web")
	if !strings.Contains(show, "pre-snapshot hook: "+pre) || !strings.Contains(show, "hook timeout: 30s") {
		t.Errorf("vg show does not print the hooks:\n%s", show)
	}
	d.ok("snapshot", "create", "web")
	if got := readTrail(t, trail); got != "pre post" {
		t.Errorf("after a snapshot the hooks wrote %q, want %q", got, "pre post")
	}

	// Only what is given changes; --hook-timeout '' restores the default.
	var vg api.VG
	d.okJSON(&vg, "vg", "set", "web", "--hook-timeout", "", "--lvm-snapshot=true")
	if vg.PreSnapshot != pre || vg.PostSnapshot != post || vg.HookTimeout != "1m0s" || !vg.LVMSnapshot {
		t.Errorf("after setting the timeout and lvm: %+v", vg)
	}
	vg = api.VG{} // omitted fields must not keep the last decode's values
	d.okJSON(&vg, "vg", "set", "web", "--lvm-snapshot=false", "--pre-snapshot", "", "--post-snapshot", "")
	if vg.PreSnapshot != "" || vg.PostSnapshot != "" || vg.HookTimeout != "" || vg.LVMSnapshot {
		t.Errorf("after clearing: %+v", vg)
	}
	if show := d.ok("vg", "show", "web"); strings.Contains(show, "hook") || strings.Contains(show, "lvm") {
		t.Errorf("vg show prints cleared settings:\n%s", show)
	}
	os.Remove(trail)
	d.ok("snapshot", "create", "web")
	if got := readTrail(t, trail); got != "" {
		t.Errorf("cleared hooks still ran: %q", got)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--hook-timeout", "2h"}, 1, "hook timeout 2h0m0s"},
		{[]string{"--hook-timeout", "soon"}, 1, `hook timeout "soon"`},
		{[]string{"--pre-snapshot", "  "}, 1, "only blanks"},
		{[]string{"--post-snapshot", strings.Repeat("x", 5000)}, 1, "at most 4096"},
		{nil, 2, "nothing to change"},
	} {
		r := d.vmrep(append([]string{"vg", "set", "web"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("vg set %q: exit %d %q, want exit %d with %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	vg = api.VG{}
	d.okJSON(&vg, "vg", "show", "web")
	if vg.PreSnapshot != "" || vg.HookTimeout != "" {
		t.Errorf("a refused vg set changed the VG: %+v", vg)
	}

	cl := d.client(t)
	empty := ""
	_, err := cl.UpdateVG(context.Background(), "nosuch", api.UpdateVGRequest{PreSnapshot: &empty})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != api.CodeNotFound {
		t.Errorf("update of an unknown VG: %v, want not_found", err)
	}
	if r := d.vmrep("vg", "set", "nosuch", "--pre-snapshot", "true"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("vg set nosuch: exit %d %q", r.code, r.stderr)
	}
}

// While a snapshot runs, vg set is refused with busy rather than changing
// the hooks under it.
func TestVGSetBusyDuringSnapshot(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 2<<20, 9)
	gate := filepath.Join(d.dir, "go")
	d.ok("vg", "set", "web", "--pre-snapshot", "while [ ! -e "+gate+" ]; do sleep 0.05; done", "--hook-timeout", "2m")
	id := strings.TrimSpace(d.ok("snapshot", "create", "web", "--detach"))
	r := d.vmrep("vg", "set", "web", "--pre-snapshot", "true")
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r.code != 1 || !strings.Contains(r.stderr, "busy") {
		t.Errorf("vg set during a snapshot: exit %d %q, want busy", r.code, r.stderr)
	}
	d.ok("jobs", "watch", id)
	var vg api.VG
	d.okJSON(&vg, "vg", "show", "web")
	if !strings.Contains(vg.PreSnapshot, gate) {
		t.Errorf("the refused vg set changed the hook: %q", vg.PreSnapshot)
	}
	var snaps []api.Snapshot
	d.okJSON(&snaps, "snapshot", "list", "web")
	if len(snaps) != 1 {
		t.Errorf("%d snapshots, want 1", len(snaps))
	}
}

// An image untouched since the last snapshot is taken from that snapshot's
// manifest (the daemon says so), unless --full; all three give one manifest.
func TestSnapshotFull(t *testing.T) {
	d := newDaemon(t)
	boot, data := d.makeVG("web", 4<<20, 11)
	// The mtime rule: a file modified within a second of the read is not
	// vouched for, so age the images.
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{boot, data} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	const hinted = "file unchanged since the last snapshot"
	var s1, s2, s3 api.Snapshot
	snapshotJSON(t, d, &s1, "snapshot", "create", "web")
	if n := strings.Count(d.log.String(), hinted); n != 0 {
		t.Fatalf("first snapshot took %d hints", n)
	}
	snapshotJSON(t, d, &s2, "snapshot", "create", "web")
	if n := strings.Count(d.log.String(), hinted); n != 2 {
		t.Fatalf("second snapshot took %d hints, want 2 (one a volume)\n%s", n, d.log)
	}
	snapshotJSON(t, d, &s3, "snapshot", "create", "web", "--full")
	if n := strings.Count(d.log.String(), hinted); n != 2 {
		t.Errorf("--full snapshot took hints (%d in all)", n)
	}
	for i := range s1.Volumes {
		m := s1.Volumes[i].Manifest
		if s2.Volumes[i].Manifest != m || s3.Volumes[i].Manifest != m {
			t.Errorf("volume %s: manifests %s %s %s differ", s1.Volumes[i].Name, m, s2.Volumes[i].Manifest, s3.Volumes[i].Manifest)
		}
	}
}

// snapshotJSON runs a snapshot create with --json and decodes the result of
// its last (done) event.
func snapshotJSON(t *testing.T, d *testDaemon, s *api.Snapshot, args ...string) {
	t.Helper()
	out := strings.TrimSpace(d.ok(append(args, "--json")...))
	last := out[strings.LastIndexByte(out, '\n')+1:]
	var ev struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal([]byte(last), &ev); err != nil || json.Unmarshal(ev.Result, s) != nil || s.Seq == 0 {
		t.Fatalf("snapshot result from %q: %v", last, err)
	}
}

func readTrail(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
