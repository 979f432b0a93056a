package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
)

// TestGCQueued: a gc asked for while a job runs waits, queued, and says
// so; a second is refused while it waits; jobs cancel ends a queued gc;
// a gc queued behind a job runs once the job ends. Before gc was queued,
// it was refused whenever any job ran, and under steady load never ran.
func TestGCQueued(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("big", 512<<20, 6)
	var big api.Job
	d.okJSON(&big, "snapshot", "create", "big", "--detach")

	queued, err := d.client(t).GC(context.Background(), api.GCRequest{})
	if err != nil {
		t.Fatalf("gc while a snapshot runs: %v", err)
	}
	if queued.State != api.StateQueued {
		t.Fatalf("gc while a snapshot runs: %+v, want queued", queued)
	}
	if r := d.vmrep("gc"); r.code != 1 || !strings.Contains(r.stderr, "already queued") {
		t.Fatalf("second gc while one is queued: %+v", r)
	}
	d.ok("jobs", "cancel", queued.ID)
	if r := d.vmrep("jobs", "watch", queued.ID); r.code != 1 || !strings.Contains(r.stderr, "canceled") {
		t.Fatalf("watch a canceled queued gc: %+v", r)
	}

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, "vmrep"), "--socket", d.socket, "gc")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !gcQueued(t, d) {
		if time.Now().After(deadline) {
			t.Fatal("no gc job queued")
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.ok("jobs", "cancel", big.ID)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gc queued behind a snapshot: %v\nstderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "queued behind 1 jobs") || !strings.Contains(stdout.String(), "deleted") {
		t.Fatalf("gc queued behind a snapshot said:\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
	}
}

// gcQueued says whether a gc job is queued in d.
func gcQueued(t *testing.T, d *testDaemon) bool {
	var jobs []api.Job
	d.okJSON(&jobs, "jobs")
	for _, j := range jobs {
		if j.Kind == api.JobGC && j.State == api.StateQueued {
			return true
		}
	}
	return false
}
