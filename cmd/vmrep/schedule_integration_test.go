package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
)

// TestScheduleCommands runs the schedule commands against a real vmrepd on
// the real clock: set, list, show, pause, resume, delete, their --json,
// the refusals, a schedule surviving a restart, and one real run (a
// one-minute schedule) that takes a snapshot as a job. The day of runs is
// daemon/schedule_test.go's, on a fake clock.
func TestScheduleCommands(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 1<<20, 1)
	d.makeVG("db", 1<<20, 2)
	deltas := filepath.Join(d.dir, "deltas")
	if err := os.Mkdir(deltas, 0o700); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(d.dir, "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var sc api.Schedule
	d.okJSON(&sc, "schedule", "set", "web", "--every", "24h", "--at", "02:00", "--delta-dir", deltas,
		"--keep-last", "4", "--keep-daily", "7", "--keep-within", "2d")
	if sc.VG != "web" || sc.Every != "24h0m0s" || sc.At != "02:00" || sc.DeltaDir != deltas ||
		sc.Keep != "last=4,daily=7,within=2d" || sc.Status.NextRun == nil || sc.Paused {
		t.Fatalf("schedule set: %+v", sc)
	}
	if next := sc.Status.NextRun.Local(); next.Hour() != 2 || next.Minute() != 0 || !next.After(time.Now()) {
		t.Errorf("next run %v, want the next 02:00", next)
	}
	out := d.ok("schedule", "set", "db", "--every", "30m", "--replicate-to", "127.0.0.1:1", "--token-file", token,
		"--materialize", "db", "--limit", "200Mbit")
	for _, want := range []string{"schedule of db set", "replicate to 127.0.0.1:1, materialize db", "limit:", "200Mbit"} {
		if !strings.Contains(out, want) {
			t.Errorf("schedule set text lacks %q:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"schedule", "set", "web"}, 2, "--every"},
		{[]string{"schedule", "set", "web", "--every", "10s"}, 1, "every \"10s\""},
		{[]string{"schedule", "set", "web", "--every", "1h", "--at", "25:00"}, 1, "HH:MM"},
		{[]string{"schedule", "set", "web", "--every", "1h", "--keep-daily", "-3"}, 1, "keep"},
		{[]string{"schedule", "set", "web", "--every", "1h", "--replicate-to", "x:1"}, 2, "--token-file"},
		{[]string{"schedule", "set", "web", "--every", "1h", "--delta-dir", filepath.Join(d.dir, "nope")}, 1, "does not exist"},
		{[]string{"schedule", "set", "nosuch", "--every", "1h"}, 1, "nosuch"},
		{[]string{"schedule", "show", "nosuch"}, 1, "nosuch"},
		{[]string{"schedule", "pause"}, 2, ""},
	} {
		r := d.vmrep(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 && tc.code == 1 {
			t.Errorf("vmrep %s: exit %d %q, want %d with %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
	}

	var list []api.Schedule
	d.okJSON(&list, "schedule", "list")
	if len(list) != 2 || list[0].VG != "db" || list[1].VG != "web" || list[0].Limit != "200Mbit" {
		t.Fatalf("schedule list: %+v", list)
	}
	if strings.Contains(d.ok("schedule", "list", "--json"), "s3cret") || strings.Contains(d.ok("schedule", "show", "db"), "s3cret") {
		t.Errorf("the token is shown")
	}
	if out := d.ok("schedule", "list"); !strings.Contains(out, "delta into "+deltas) || !strings.Contains(out, "last=4,daily=7,within=2d") {
		t.Errorf("schedule list text:\n%s", out)
	}
	sc = api.Schedule{} // omitted (empty) fields must not keep the last decode's values
	d.okJSON(&sc, "schedule", "pause", "db")
	if !sc.Paused || sc.Status.NextRun != nil {
		t.Errorf("paused: %+v", sc)
	}
	if out := d.ok("schedule", "show", "db"); !strings.Contains(out, "next run:") || !strings.Contains(out, "paused") {
		t.Errorf("schedule show of a paused schedule:\n%s", out)
	}

	// Schedules, pause included, survive a restart.
	d.stop()
	d.start()
	d.okJSON(&list, "schedule", "list")
	if len(list) != 2 || !list[0].Paused || list[1].Keep != "last=4,daily=7,within=2d" {
		t.Fatalf("schedules after a restart: %+v", list)
	}
	sc = api.Schedule{}
	d.okJSON(&sc, "schedule", "resume", "db")
	if sc.Paused || sc.Status.NextRun == nil {
		t.Errorf("resumed: %+v", sc)
	}
	if out := d.ok("schedule", "delete", "db"); !strings.Contains(out, "schedule of db deleted") {
		t.Errorf("delete: %s", out)
	}
	if r := d.vmrep("schedule", "show", "db"); r.code != 1 || !strings.Contains(r.stderr, "has no schedule") {
		t.Errorf("show after delete: %+v", r)
	}

	// One real run on the real clock: a one-minute schedule takes a
	// snapshot as a job within a minute or so.
	d.ok("schedule", "set", "web", "--every", "1m", "--keep-last", "1")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		sc = api.Schedule{}
		d.okJSON(&sc, "schedule", "show", "web")
		if sc.Status.RunsOK >= 1 && sc.Status.Running == "" {
			break
		}
		if sc.Status.RunsFailed > 0 || time.Now().After(deadline) {
			t.Fatalf("no good run: %+v\n%s", sc.Status, d.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if sc.Status.LastResult != api.RunOK || sc.Status.LastSnapshot == "" || sc.Status.LastJob == "" {
		t.Errorf("after the run: %+v", sc.Status)
	}
	var j api.Job
	d.okJSON(&j, "jobs", "show", sc.Status.LastJob)
	if j.Kind != api.JobSchedule || j.Target != "web" || j.State != api.StateDone {
		t.Errorf("the run's job: %+v", j)
	}
	if out := d.ok("schedule", "show", "web"); !strings.Contains(out, "last run:") || !strings.Contains(out, " ok (") {
		t.Errorf("schedule show after a run:\n%s", out)
	}
	d.ok("schedule", "delete", "web")
}

// TestScheduleReplicates runs a one-minute schedule that replicates to a
// real replication server with --materialize and keeps the last snapshot:
// the run's snapshot is on the server and in its replica, and the older
// local snapshot, which no replica or target needs, is removed.
func TestScheduleReplicates(t *testing.T) {
	s := newReplSetup(t)
	s.src.ok("schedule", "set", "web", "--every", "1m", "--replicate-to", s.addr, "--token-file", s.pki.tokenFile,
		"--ca", s.pki.caFile, "--materialize", "web", "--keep-last", "1")
	var sc api.Schedule
	deadline := time.Now().Add(3 * time.Minute)
	for {
		sc = api.Schedule{}
		s.src.okJSON(&sc, "schedule", "show", "web")
		if sc.Status.RunsOK >= 1 && sc.Status.Running == "" {
			break
		}
		if sc.Status.RunsFailed > 0 || time.Now().After(deadline) {
			t.Fatalf("no good run: %+v\n%s", sc.Status, s.src.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.src.ok("schedule", "pause", "web")
	if sc.Status.LastSnapshot != "web@2" || sc.Status.Removed != 1 {
		t.Errorf("after the run: %+v", sc.Status)
	}
	var j api.Job
	var res api.ScheduleRunResult
	s.src.okJSON(&j, "jobs", "show", sc.Status.LastJob)
	if err := json.Unmarshal(j.Result, &res); err != nil {
		t.Fatalf("the run's result %s: %v", j.Result, err)
	}
	if res.Snapshot != "web@2" || res.Replicate == nil || !res.Replicate.Committed || res.Replicate.Replica == nil ||
		len(res.Removed) != 1 || res.Removed[0] != "web@1" {
		t.Errorf("the run's result: %+v", res)
	}
	var local, remote []api.Snapshot
	s.src.okJSON(&local, "snapshot", "list", "web")
	s.srv.okJSON(&remote, "snapshot", "list", "web")
	if len(local) != 1 || local[0].Seq != 2 || len(remote) != 1 || remote[0].ID != local[0].ID {
		t.Errorf("local snapshots %+v, on the server %+v", local, remote)
	}
}
