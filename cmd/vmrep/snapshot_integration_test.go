package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

func TestSnapshotCommands(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 8<<20, 2)

	// With --json, create streams NDJSON events ending with the result.
	out := d.ok("snapshot", "create", "web", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last api.Event
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("last event: %v\n%s", err, out)
	}
	var s1 api.Snapshot
	if last.State != api.StateDone || json.Unmarshal(last.Result, &s1) != nil || s1.Seq != 1 {
		t.Fatalf("final event %+v", last)
	}
	if txt := d.ok("snapshot", "create", "web"); !strings.Contains(txt, "created snapshot web@2") {
		t.Fatalf("create text:\n%s", txt)
	}

	var snaps []api.Snapshot
	d.okJSON(&snaps, "snapshot", "list", "web")
	if len(snaps) != 2 || snaps[0].Seq != 1 || snaps[1].Seq != 2 || snaps[1].Parent != snaps[0].ID {
		t.Fatalf("snapshot list: %+v", snaps)
	}
	// Nothing changed: the second snapshot adds nothing and shares manifests.
	for i, v := range snaps[1].Volumes {
		if v.NewBytes != 0 || v.Manifest != snaps[0].Volumes[i].Manifest {
			t.Errorf("second snapshot volume %s: new %d, manifest %s vs %s", v.Name, v.NewBytes, v.Manifest, snaps[0].Volumes[i].Manifest)
		}
	}
	if txt := d.ok("snapshot", "list", "web"); !strings.Contains(txt, "100.0%") {
		t.Errorf("snapshot list shows no dedup:\n%s", txt)
	}

	var latest api.Snapshot
	d.okJSON(&latest, "snapshot", "show", "web@latest")
	if latest.ID != snaps[1].ID {
		t.Fatalf("web@latest = %s, want %s", latest.ID, snaps[1].ID)
	}
	d.ok("snapshot", "delete", "web@2")
	d.okJSON(&latest, "snapshot", "show", "web@latest")
	if latest.Seq != 1 {
		t.Fatalf("latest after delete = %d", latest.Seq)
	}
	if r := d.vmrep("snapshot", "show", "web@2"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("show deleted: %+v", r)
	}
	// Numbers are never reused.
	d.okJSON(&latest, "snapshot", "create", "web", "--detach")
	d.ok("jobs", "watch", latestJobID(t, d))
	d.okJSON(&latest, "snapshot", "show", "web")
	if latest.Seq != 3 {
		t.Fatalf("snapshot after a delete got number %d, want 3", latest.Seq)
	}
	d.ok("verify")
}

// latestJobID is the newest job the daemon lists.
func latestJobID(t *testing.T, d *testDaemon) string {
	var jobs []api.Job
	d.okJSON(&jobs, "jobs", "list")
	if len(jobs) == 0 {
		t.Fatal("no jobs")
	}
	return jobs[len(jobs)-1].ID
}

func TestSnapshotStoredBytes(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 8<<20, 3)
	d.ok("snapshot", "create", "web")
	d.ok("snapshot", "create", "web") // nothing changed: adds nothing

	type vol struct {
		Name        string `json:"name"`
		NewBytes    int64  `json:"new_bytes"`
		StoredBytes *int64 `json:"stored_bytes"`
	}
	var s1, s2 struct{ Volumes []vol }
	d.okJSON(&s1, "snapshot", "show", "web@1")
	d.okJSON(&s2, "snapshot", "show", "web@2")
	for _, v := range s1.Volumes {
		// Random data does not compress: what the store took is about
		// the new bytes, plus the manifest pages.
		if v.StoredBytes == nil || *v.StoredBytes < v.NewBytes || *v.StoredBytes > v.NewBytes+v.NewBytes/10 {
			t.Errorf("web@1 volume %s: stored %s for %d new bytes", v.Name, storedText(v.StoredBytes), v.NewBytes)
		}
	}
	for _, v := range s2.Volumes {
		if v.StoredBytes == nil || *v.StoredBytes != 0 {
			t.Errorf("web@2 volume %s added nothing but reports stored %s", v.Name, storedText(v.StoredBytes))
		}
	}
	if out := d.ok("snapshot", "show", "web@1"); !strings.Contains(out, "STORED") || !strings.Contains(out, "4.0 MiB") {
		t.Errorf("snapshot show text:\n%s", out)
	}
}

func storedText(n *int64) string {
	if n == nil {
		return "null"
	}
	return strconv.FormatInt(*n, 10)
}
