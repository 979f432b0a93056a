package daemon

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
)

// state waits (briefly) until j is in state want.
func waitState(t *testing.T, j *job, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for j.view().State != want {
		if time.Now().After(deadline) {
			t.Fatalf("job %s %s: state %q, want %q", j.kind, j.id, j.view().State, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGCQueuesBehindJobs: a gc asked for while a job runs is queued, not
// refused; jobs asked for after it wait behind it (so it cannot starve);
// it runs once the running job ends, and they run once it ends. A second
// gc is refused while one is queued.
func TestGCQueuesBehindJobs(t *testing.T) {
	m := newJobManager(16, slog.New(slog.DiscardHandler))
	defer m.shutdown()
	block := make(chan struct{})
	wait := func(ctx context.Context, j *job) (any, error) { <-block; return nil, nil }

	running, err := m.start(api.JobSnapshot, "web", wait, nil)
	if err != nil {
		t.Fatal(err)
	}
	gcBlock := make(chan struct{})
	gcJob, err := m.startExclusive(api.JobGC, "store", func(ctx context.Context, j *job) (any, error) { <-gcBlock; return nil, nil })
	if err != nil {
		t.Fatalf("gc while a snapshot runs: %v", err)
	}
	if v := gcJob.view(); v.State != api.StateQueued {
		t.Fatalf("gc while a snapshot runs: %+v, want queued", v)
	}
	if ev, _ := gcJob.event(); !strings.Contains(ev.Message, "queued behind 1 jobs") {
		t.Fatalf("queued gc says %q", ev.Message)
	}
	if _, err := m.startExclusive(api.JobGC, "store", wait); err == nil || !strings.Contains(err.Error(), "already queued") {
		t.Fatalf("second gc while one is queued: %v", err)
	}
	behind, err := m.start(api.JobRestore, "web@1", func(context.Context, *job) (any, error) { return nil, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := behind.view(); v.State != api.StateQueued {
		t.Fatalf("a job after a queued gc: %+v, want queued behind it", v)
	}
	close(block)
	follow(running)
	waitState(t, gcJob, api.StateRunning)
	if v := behind.view(); v.State != api.StateQueued {
		t.Fatalf("a job while gc runs: %+v, want queued", v)
	}
	if _, err := m.startExclusive(api.JobGC, "store", wait); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second gc while one runs: %v", err)
	}
	close(gcBlock)
	follow(gcJob)
	if evs := follow(behind); evs[len(evs)-1].State != api.StateDone {
		t.Fatalf("job queued behind gc: %+v", evs[len(evs)-1])
	}
}

// TestQueuedGCCancel: canceling a queued gc ends it as canceled without
// running it, and lets the jobs behind it run.
func TestQueuedGCCancel(t *testing.T) {
	m := newJobManager(16, slog.New(slog.DiscardHandler))
	defer m.shutdown()
	block := make(chan struct{})
	running, _ := m.start(api.JobSnapshot, "web", func(ctx context.Context, j *job) (any, error) { <-block; return nil, nil }, nil)
	var ran atomic.Bool
	gcJob, err := m.startExclusive(api.JobGC, "store", func(context.Context, *job) (any, error) { ran.Store(true); return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	behind, _ := m.start(api.JobVerify, "store", func(context.Context, *job) (any, error) { return nil, nil }, nil)
	gcJob.cancel()
	if evs := follow(gcJob); evs[len(evs)-1].State != api.StateCanceled {
		t.Fatalf("canceled queued gc: %+v", evs[len(evs)-1])
	}
	// With the gc gone the verify need not wait for the snapshot.
	if evs := follow(behind); evs[len(evs)-1].State != api.StateDone {
		t.Fatalf("job behind a canceled gc: %+v", evs[len(evs)-1])
	}
	close(block)
	follow(running)
	if ran.Load() {
		t.Fatal("a canceled queued gc ran")
	}
}

// TestHoldAndQueuedGC: replication holds count as running work (a gc
// queues behind them and starts when the last is released); a hold asked
// for while a gc is queued waits for it, or gives up when its request
// ends first.
func TestHoldAndQueuedGC(t *testing.T) {
	m := newJobManager(16, slog.New(slog.DiscardHandler))
	defer m.shutdown()
	release, err := m.hold(context.Background(), "a blob upload")
	if err != nil {
		t.Fatal(err)
	}
	gcJob, _ := m.startExclusive(api.JobGC, "store", func(context.Context, *job) (any, error) { return nil, nil })
	if v := gcJob.view(); v.State != api.StateQueued {
		t.Fatalf("gc during a hold: %+v", v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.hold(ctx, "another upload"); err == nil || !strings.Contains(err.Error(), "gave up waiting") {
		t.Fatalf("hold while gc is queued, until the sender hangs up: %v", err)
	}
	waited := make(chan error, 1)
	go func() {
		rel, err := m.hold(context.Background(), "an upload after the gc")
		if err == nil {
			rel()
		}
		waited <- err
	}()
	release()
	if evs := follow(gcJob); evs[len(evs)-1].State != api.StateDone {
		t.Fatalf("gc after the hold ended: %+v", evs[len(evs)-1])
	}
	if err := <-waited; err != nil {
		t.Fatalf("hold that waited for gc: %v", err)
	}
}
