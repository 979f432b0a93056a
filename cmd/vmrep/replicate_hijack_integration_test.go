package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
)

// TestReplicateHijackRefused replays the attack of issue 19 on a server
// that holds web@1: a token holder posts web's VG ID with a new name and
// one 4 KiB volume. The server must refuse it (409, one line) and every
// other way of changing the VG under its snapshot, leave the VG and
// snapshot records byte for byte as they were, keep serving the real
// source, and refuse a second source writing the first's VG.
func TestReplicateHijackRefused(t *testing.T) {
	s := newReplSetup(t)
	ctx := context.Background()
	s.replicate("web@1")
	srcVG, err := s.src.client(t).GetVG(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	records := []string{
		filepath.Join(s.srv.store, "records", "vgs", srcVG.ID),
		filepath.Join(s.srv.store, "records", "snapshots", fmt.Sprintf("%s-%016x", srcVG.ID, 1)),
	}
	read := func() []string {
		var out []string
		for _, f := range records {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
		return out
	}
	before := read()
	same := func(what string) {
		t.Helper()
		for i, b := range read() {
			if b != before[i] {
				t.Fatalf("after %s, %s changed", what, records[i])
			}
		}
	}
	vols := func() []api.Volume {
		out := make([]api.Volume, len(srcVG.Volumes))
		for i, v := range srcVG.Volumes {
			out[i] = api.Volume{ID: v.ID, Name: v.Name, Role: v.Role, Size: v.Size, Format: v.Format}
		}
		return out
	}
	disk := []api.Volume{{ID: "vol-00000000000000ff", Name: "disk", Role: api.RoleBoot, Size: 4096}}

	// The attacker holds the token and, with one shared token, can claim
	// the real source's ID: the record rules must hold against it.
	raw := newReplRaw(t, s.pki, s.addr)
	raw.source = storeID(t, s.src)
	// Another source (its own store) posting the first's VG unchanged.
	other := newDaemon(t)
	otherRaw := newReplRaw(t, s.pki, s.addr)
	otherRaw.source = storeID(t, other)
	if otherRaw.source == raw.source {
		t.Fatal("two stores with one ID")
	}
	for _, tc := range []struct {
		name string
		raw  *replRaw
		path string
		body any
		want string
	}{
		{"the attack: new name, one 4 KiB volume", raw, api.ReplVGsPath,
			api.ReplVG{ID: srcVG.ID, Name: "hijacked", NextSeq: 9, Volumes: disk}, `may not rename it to "hijacked"`},
		{"same name, one 4 KiB volume", raw, api.ReplVGsPath,
			api.ReplVG{ID: srcVG.ID, Name: "web", NextSeq: 9, Volumes: disk}, `volume in use by a snapshot: snapshot web@1: the new record lacks volume`},
		{"rename only", raw, api.ReplVGsPath,
			api.ReplVG{ID: srcVG.ID, Name: "web2", NextSeq: 2, Volumes: vols()}, "may not rename it"},
		{"another source, the record unchanged", otherRaw, api.ReplVGsPath,
			api.ReplVG{ID: srcVG.ID, Name: "web", NextSeq: 2, Volumes: vols()}, "was created by another source"},
		{"another source, a snapshot of it", otherRaw, api.ReplSnapshotsPath, hijackSnapshot(srcVG), "was created by another source"},
		{"another source, materialize it", otherRaw, api.ReplReplicasPath,
			api.ReplReplicaRequest{VGID: srcVG.ID, Seq: 1, Dir: "stolen"}, "was created by another source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, e := tc.raw.postJSON(tc.path, tc.body)
			t.Logf("%d %s", code, e.Message)
			if code != http.StatusConflict || e.Code != api.CodeConflict || !strings.Contains(e.Message, tc.want) ||
				strings.Contains(e.Message, "\n") || strings.Contains(e.Message, raw.source) {
				t.Fatalf("got %d %+v, want 409 conflict saying %q on one line, not naming the owner", code, e, tc.want)
			}
			same(tc.name)
		})
	}
	t.Run("no source id", func(t *testing.T) {
		anon := newReplRaw(t, s.pki, s.addr)
		anon.source = ""
		code, e := anon.postJSON(api.ReplVGsPath, api.ReplVG{ID: srcVG.ID, Name: "web", NextSeq: 2, Volumes: vols()})
		if code != http.StatusBadRequest || !strings.Contains(e.Message, api.ReplSourceHeader) {
			t.Fatalf("got %d %+v", code, e)
		}
		same("a request without a source id")
	})
	if _, err := os.Stat(filepath.Join(s.root, "stolen")); err == nil {
		t.Fatal("a refused materialize wrote a replica")
	}
	s.srv.ok("verify")

	// The real source goes on: web@1 again, then web@2 (the VG record
	// with its next sequence number raised, the same volumes).
	if r := s.replicate("web@1"); r.Committed {
		t.Fatalf("web@1 again: %+v", r)
	}
	s.src.ok("snapshot", "create", "web")
	if r := s.replicate("web@2"); !r.Committed {
		t.Fatalf("web@2: %+v", r)
	}
	sameSnapshot(t, s, "1")
	sameSnapshot(t, s, "2")
	if after := read(); after[1] != before[1] {
		t.Fatal("web@1's record changed when web@2 arrived")
	}
	// The other source replicates its own VGs as usual.
	other.makeVG("db", 1<<20, 3)
	other.ok("snapshot", "create", "db")
	other.ok("replicate", "db@1", "--to", s.addr, "--token-file", s.pki.tokenFile, "--ca", s.pki.caFile)
	srvVGs, err := s.srv.client(t).ListVGs(ctx)
	if err != nil || len(srvVGs) != 2 {
		t.Fatalf("server VGs: %+v %v", srvVGs, err)
	}
	s.srv.ok("verify")
}

// hijackSnapshot is a snapshot record of vg at seq 5 naming its boot
// volume with a made-up manifest: the owner check refuses it first.
func hijackSnapshot(vg api.VG) api.Snapshot {
	sn := api.Snapshot{ID: "snap-00000000000000ee", VGID: vg.ID, VGName: vg.Name, Seq: 5, Created: time.Now().UTC()}
	for _, v := range vg.Volumes {
		if v.Role == api.RoleBoot {
			sn.Volumes = []api.VolumeSnapshot{{VolumeID: v.ID, Name: v.Name, Role: v.Role, Size: v.Size,
				Manifest: blob.Sum([]byte("not a manifest")).String()}}
		}
	}
	return sn
}

// TestVerifyReportsHijackedVG writes, with the server stopped, the record
// the attack left on an older server (web renamed, one 4 KiB volume) and
// deletes nothing else: verify on the server must report web@1's two
// volumes as missing from their VG.
func TestVerifyReportsHijackedVG(t *testing.T) {
	s := newReplSetup(t)
	ctx := context.Background()
	s.replicate("web@1")
	s.srv.ok("verify")
	vg, err := s.srv.client(t).GetVG(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	s.srv.stop()
	st, err := cas.Open(ctx, s.srv.store, cas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := st.GetRecord(ctx, blob.RecordVG, vg.ID)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	rec["name"] = "hijacked"
	rec["volumes"] = []map[string]any{{"id": "vol-00000000000000ff", "name": "disk", "role": "boot", "size": 4096}}
	if data, err = json.Marshal(rec); err != nil {
		t.Fatal(err)
	}
	if err := st.PutRecord(ctx, blob.RecordVG, vg.ID, data); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	s.srv.start()
	r := s.srv.vmrep("verify")
	if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
		!strings.Contains(r.stderr, "verify found 2 problems") || !strings.Contains(r.stderr, "its volume group lacks volume") {
		t.Fatalf("verify: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}
