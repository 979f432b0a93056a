package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

func TestJobsCommands(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 4<<20, 5)
	d.makeVG("big", 512<<20, 6)

	var j api.Job
	d.okJSON(&j, "snapshot", "create", "web", "--detach")
	if j.Kind != api.JobSnapshot || j.Target != "web" {
		t.Fatalf("detached job: %+v", j)
	}
	out := d.ok("jobs", "watch", j.ID, "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last api.Event
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if last.State != api.StateDone {
		t.Fatalf("watch: %s", out)
	}
	var shown api.Job
	d.okJSON(&shown, "jobs", "show", j.ID)
	if shown.State != api.StateDone || shown.Done != shown.Total || shown.Total != 8<<20 {
		t.Fatalf("jobs show: %+v", shown)
	}

	// A second writer on the same VG is refused while the first runs; a
	// cancel ends the first, and the VG is free again.
	var big api.Job
	d.okJSON(&big, "snapshot", "create", "big", "--detach")
	if r := d.vmrep("snapshot", "create", "big"); r.code != 1 || !strings.Contains(r.stderr, "busy") {
		t.Errorf("second snapshot while one runs: %+v", r)
	}
	d.ok("jobs", "cancel", big.ID)
	r := d.vmrep("jobs", "watch", big.ID)
	if r.code != 1 || !strings.Contains(r.stderr, "canceled") {
		t.Fatalf("watch canceled job: %+v", r)
	}
	var jobs []api.Job
	d.okJSON(&jobs, "jobs")
	states := map[string]string{}
	for _, j := range jobs {
		states[j.ID] = j.State
	}
	if states[j.ID] != api.StateDone || states[big.ID] != api.StateCanceled {
		t.Fatalf("jobs list states: %v", states)
	}
	var snaps []api.Snapshot
	d.okJSON(&snaps, "snapshot", "list", "big")
	if len(snaps) != 0 {
		t.Fatalf("canceled snapshot left a record: %+v", snaps)
	}
	if txt := d.ok("jobs", "list"); !strings.Contains(txt, "canceled") {
		t.Errorf("jobs list text:\n%s", txt)
	}
	if r := d.vmrep("jobs", "show", "job-nope"); r.code != 1 || !strings.Contains(r.stderr, "no job") {
		t.Errorf("show unknown job: %+v", r)
	}
}
