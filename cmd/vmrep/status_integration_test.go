package main

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
)

// statusOf runs `vmrep status VG --json` and returns the VG's entry and
// the report's time; raw is the VG's JSON object, to check absent fields.
func statusOf(t *testing.T, d *testDaemon, vg string) (api.VGStatus, time.Time, map[string]json.RawMessage) {
	t.Helper()
	out := d.ok("status", vg, "--json")
	var rep api.StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	var raw struct {
		VGs []map[string]json.RawMessage `json:"vgs"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if len(rep.VGs) != 1 || rep.VGs[0].Name != vg || len(raw.VGs) != 1 {
		t.Fatalf("status %s: %s", vg, out)
	}
	return rep.VGs[0], rep.Time, raw.VGs[0]
}

func snapshotOf(t *testing.T, d *testDaemon, vg, seq string) api.Snapshot {
	t.Helper()
	sn, err := d.client(t).GetSnapshot(context.Background(), vg, seq)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

// checkLag: lag is the report's time minus the creation of the target's
// snapshot (both from the daemon's clock).
func checkLag(t *testing.T, tg api.TargetStatus, now time.Time, sn api.Snapshot) {
	t.Helper()
	want := now.Sub(sn.Created).Seconds()
	if !tg.Snapshot.Created.Equal(sn.Created) || tg.LagSeconds < 0 || math.Abs(tg.LagSeconds-want) > 1e-3 {
		t.Fatalf("target %+v: lag %v s, want time %v minus created %v = %v", tg, tg.LagSeconds, now, sn.Created, want)
	}
}

// TestStatus checks every field of `vmrep status --json` against two real
// daemons: the last local snapshot, the target's snapshot, lag and
// backlog (0, then the bytes written, then 0 again), a running transfer
// slowed with --limit, the last error (a dead target) and both after a
// restart, with `vmrep jobs` listing the finished jobs from the history.
func TestStatus(t *testing.T) {
	src := newDaemon(t)
	pki := newReplPKI(t, t.TempDir())
	_, addr := newReplServer(t, pki)
	_, data := src.makeVG("web", 8<<20, 1)
	repl := func(ref, to string, extra ...string) []string {
		return append([]string{"replicate", ref, "--to", to, "--token-file", pki.tokenFile, "--ca", pki.caFile}, extra...)
	}

	// No snapshot: no last snapshot, no targets, nothing else.
	st, _, raw := statusOf(t, src, "web")
	if st.LastSnapshot != nil || len(st.Targets) != 0 || st.ID == "" {
		t.Fatalf("fresh VG: %+v", st)
	}
	for _, k := range []string{"last_snapshot", "transfer", "last_error", "schedule"} {
		if _, ok := raw[k]; ok {
			t.Fatalf("fresh VG has %q: %v", k, raw)
		}
	}

	src.ok("snapshot", "create", "web")
	sn1 := snapshotOf(t, src, "web", "1")
	st, _, _ = statusOf(t, src, "web")
	if ls := st.LastSnapshot; ls == nil || ls.Name != "web@1" || ls.Seq != 1 || ls.ID != sn1.ID || !ls.Created.Equal(sn1.Created) {
		t.Fatalf("last snapshot after the first: %+v", st.LastSnapshot)
	}
	if len(st.Targets) != 0 {
		t.Fatalf("targets before any push: %+v", st.Targets)
	}

	before := time.Now().UTC()
	src.ok(repl("web@1", addr)...)
	after := time.Now().UTC()
	st, now, _ := statusOf(t, src, "web")
	if len(st.Targets) != 1 {
		t.Fatalf("targets after a push: %+v", st.Targets)
	}
	tg := st.Targets[0]
	if tg.To != addr || tg.Snapshot.Name != "web@1" || tg.Snapshot.Seq != 1 || tg.Snapshot.ID != sn1.ID {
		t.Fatalf("target after the push: %+v", tg)
	}
	if tg.Pushed == nil || tg.Pushed.Before(before.Truncate(time.Second)) || tg.Pushed.After(after.Add(time.Second)) {
		t.Fatalf("pushed %v, not within the replicate run [%v, %v]", tg.Pushed, before, after)
	}
	checkLag(t, tg, now, sn1)
	if tg.BacklogBytes != 0 || tg.BacklogError != "" || len(tg.Volumes) != 2 {
		t.Fatalf("target at the newest snapshot: %+v", tg)
	}
	for _, v := range tg.Volumes {
		if v.BacklogBytes != 0 || v.VolumeID == "" || (v.Name != "boot" && v.Name != "db") {
			t.Fatalf("volume backlog at the newest: %+v", v)
		}
	}

	// Write 100000 bytes in the data volume and snapshot without
	// replicating: the backlog is those bytes, rounded out to chunks.
	const written = 100000
	f, err := os.OpenFile(data, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(randomBytes(rand.New(rand.NewPCG(5, 5)), written), 1<<20+12345); err != nil {
		t.Fatal(err)
	}
	f.Close()
	src.ok("snapshot", "create", "web")
	sn2 := snapshotOf(t, src, "web", "2")
	st, now, _ = statusOf(t, src, "web")
	if st.LastSnapshot == nil || st.LastSnapshot.Seq != 2 || st.LastSnapshot.ID != sn2.ID {
		t.Fatalf("last snapshot: %+v", st.LastSnapshot)
	}
	tg = st.Targets[0]
	if tg.Snapshot.Seq != 1 {
		t.Fatalf("target moved without a push: %+v", tg)
	}
	checkLag(t, tg, now, sn1) // the target still holds web@1
	const maxChunk = 256 << 10
	t.Logf("backlog after writing %d bytes: %d", written, tg.BacklogBytes)
	if tg.BacklogBytes < written || tg.BacklogBytes > written+2*maxChunk {
		t.Fatalf("backlog %d bytes after writing %d (want within 2 chunks of %d above)", tg.BacklogBytes, written, maxChunk)
	}
	var sum int64
	for _, v := range tg.Volumes {
		sum += v.BacklogBytes
		if (v.Name == "boot") != (v.BacklogBytes == 0) {
			t.Fatalf("per-volume backlog: only db changed: %+v", tg.Volumes)
		}
	}
	if sum != tg.BacklogBytes {
		t.Fatalf("volumes sum to %d, total %d", sum, tg.BacklogBytes)
	}
	if out := src.ok("status"); !strings.Contains(out, "web: last snapshot web@2") || !strings.Contains(out, addr) {
		t.Fatalf("status table:\n%s", out)
	}

	src.ok(repl("web@2", addr)...)
	st, now, _ = statusOf(t, src, "web")
	if tg = st.Targets[0]; tg.Snapshot.Seq != 2 || tg.BacklogBytes != 0 {
		t.Fatalf("after replicating web@2: %+v", tg)
	}
	checkLag(t, tg, now, sn2)

	// A transfer slowed by --limit: status shows it running, its bytes
	// growing, a rate and an ETA.
	src.makeVG("big", 32<<20, 3)
	src.ok("snapshot", "create", "big")
	cmd := exec.Command(filepath.Join(binDir, "vmrep"), append([]string{"--socket", src.socket}, repl("big@1", addr, "--limit", "16Mbit")...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- cmd.Wait() }()
	var seen []api.StatusTransfer
	for len(seen) < 2 || seen[len(seen)-1].DoneBytes <= seen[0].DoneBytes {
		select {
		case err := <-ran:
			t.Fatalf("replicate ended (%v) before status saw it progress: %+v", err, seen)
		case <-time.After(200 * time.Millisecond):
		}
		st, _, _ := statusOf(t, src, "big")
		tr := st.Transfer
		if tr == nil || tr.Phase != "send" || tr.RateBytes <= 0 {
			continue
		}
		if tr.JobID == "" || tr.State != api.StateRunning || !strings.HasPrefix(tr.Target, "big@1 to ") || tr.Started.IsZero() ||
			tr.TotalBytes < tr.DoneBytes || tr.ETASeconds == nil || *tr.ETASeconds < 0 {
			t.Fatalf("transfer: %+v", tr)
		}
		if len(seen) > 0 && (tr.JobID != seen[0].JobID || tr.DoneBytes < seen[len(seen)-1].DoneBytes) {
			t.Fatalf("transfer went back: %+v after %+v", tr, seen)
		}
		seen = append(seen, *tr)
	}
	if out := src.ok("status", "big"); !strings.Contains(out, "transfer: "+seen[0].JobID) || !strings.Contains(out, "ETA") {
		t.Fatalf("status table during a transfer:\n%s", out)
	} else {
		last := seen[len(seen)-1]
		t.Logf("transfer under --limit 16Mbit: %d polls, %d -> %d bytes, rate %.0f B/s, ETA %.1f s; table:\n%s",
			len(seen), seen[0].DoneBytes, last.DoneBytes, last.RateBytes, *last.ETASeconds, out)
	}
	if err := <-ran; err != nil {
		t.Fatalf("slow replicate: %v", err)
	}
	if st, _, raw := statusOf(t, src, "big"); st.Transfer != nil || raw["transfer"] != nil {
		t.Fatalf("transfer after the job ended: %+v", st.Transfer)
	}

	// A dead target: the failed job is the last error.
	dead := "127.0.0.1:1"
	if r := src.vmrep(repl("web@2", dead)...); r.code == 0 {
		t.Fatalf("replicate to a dead target succeeded: %s", r.stdout)
	}
	checkErr := func(when string) api.StatusError {
		t.Helper()
		st, now, _ := statusOf(t, src, "web")
		e := st.LastError
		if e == nil || e.Kind != api.JobReplicate || e.Target != "web@2 to "+dead || e.JobID == "" || e.Code == "" ||
			e.Message == "" || e.Time.After(now) {
			t.Fatalf("%s: last error %+v", when, e)
		}
		if len(st.Targets) != 1 || st.Targets[0].Snapshot.Seq != 2 || st.Schedule != nil {
			t.Fatalf("%s: %+v", when, st)
		}
		return *e
	}
	e1 := checkErr("after the failure")

	// After a restart: the same last error, the targets, and the finished
	// jobs in `vmrep jobs`.
	src.stop()
	src.start()
	if e2 := checkErr("after a restart"); e2 != e1 {
		t.Fatalf("last error changed over a restart: %+v, was %+v", e2, e1)
	}
	var jobs []api.Job
	src.okJSON(&jobs, "jobs")
	var failed, replicated int
	for _, j := range jobs {
		switch {
		case j.ID == e1.JobID && j.State == api.StateFailed && j.Error != nil && j.Error.Message == e1.Message && j.Finished != nil:
			failed++
		case j.Kind == api.JobReplicate && j.State == api.StateDone && len(j.Result) > 0:
			replicated++
		}
	}
	if failed != 1 || replicated != 3 {
		t.Fatalf("jobs after a restart: %d failed (want 1), %d replicates done (want 3): %+v", failed, replicated, jobs)
	}
	if out := src.ok("jobs"); !strings.Contains(out, e1.JobID) {
		t.Fatalf("jobs table after a restart:\n%s", out)
	}
	// Every VG without the argument.
	var rep api.StatusReport
	src.okJSON(&rep, "status")
	if len(rep.VGs) != 2 || rep.VGs[0].Name == rep.VGs[1].Name {
		t.Fatalf("status of all VGs: %+v", rep.VGs)
	}
	if r := src.vmrep("status", "nosuch"); r.code != 1 {
		t.Fatalf("status of an unknown VG: exit %d %s", r.code, r.stderr)
	}
	if r := src.vmrep("status", "a", "b"); r.code != 2 {
		t.Fatalf("status with two VGs: exit %d", r.code)
	}
}
