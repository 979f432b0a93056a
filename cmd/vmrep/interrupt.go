package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/vmrep/vmrep/api"
)

// interruptedError ends a command the user interrupted: exit 130.
type interruptedError struct{ msg string }

func (e interruptedError) Error() string { return e.msg }

// interrupts routes SIGINT and SIGTERM. While the CLI follows a job, the
// first signal asks the daemon to cancel that job and the CLI waits for it
// to end, so that the store is left as it was and the exit says so.
// Otherwise, and for a second signal, the command's context is canceled.
type interrupts struct {
	mu       sync.Mutex
	onJob    func() // set while a job is followed; taken by the first signal
	starting bool   // a job is being started: the first signal waits for it
	pending  bool   // a signal came while starting
	stopped  bool   // a signal canceled the command's context
}

// handleSignals starts routing signals for one run of the CLI; stop ends
// it and waits for the routing goroutine.
func (a *app) handleSignals() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				a.intr.mu.Lock()
				fn := a.intr.onJob
				a.intr.onJob = nil
				wait := fn == nil && a.intr.starting && !a.intr.pending
				switch {
				case wait:
					a.intr.pending = true
				case fn == nil:
					a.intr.stopped = true
				}
				a.intr.mu.Unlock()
				switch {
				case fn != nil:
					fn()
				case !wait:
					cancel(fmt.Errorf("%v", sig))
				}
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		wg.Wait()
		cancel(nil)
	}
}

// startingJob is called before the request that starts a job: a first
// signal from then until the job is followed waits for the job's ID, so
// that the job is canceled rather than the request, which would leave a
// job the daemon already started running unseen. A second signal cancels
// the request.
func (a *app) startingJob() {
	a.intr.mu.Lock()
	a.intr.starting = true
	a.intr.mu.Unlock()
}

// whileFollowing makes the first signal call cancelJob until the returned
// function is called; a signal that came while the job was being started
// calls it at once.
func (a *app) whileFollowing(cancelJob func()) func() {
	a.intr.mu.Lock()
	pending := a.intr.pending
	a.intr.starting, a.intr.pending = false, false
	if !pending {
		a.intr.onJob = cancelJob
	}
	a.intr.mu.Unlock()
	if pending {
		cancelJob()
	}
	return func() {
		a.intr.mu.Lock()
		a.intr.onJob = nil
		a.intr.mu.Unlock()
	}
}

// interrupted says whether a signal canceled the command's context.
func (a *app) interrupted() bool {
	a.intr.mu.Lock()
	defer a.intr.mu.Unlock()
	return a.intr.stopped
}

// cancelOnInterrupt returns the function the first signal calls while j
// is followed: it asks the daemon to cancel j, and records that it did.
func (a *app) cancelOnInterrupt(j api.Job, asked *bool, mu *sync.Mutex) func() {
	return func() {
		mu.Lock()
		*asked = true
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A job that ended meanwhile cannot be canceled; its end is what
		// the follower then reports.
		_, _ = a.cl.CancelJob(ctx, j.ID)
	}
}

// interruptResult turns the end of a job the user interrupted into the
// command's error.
func interruptResult(j api.Job, ev api.Event, err error, waitCtx context.Context) (api.Event, error) {
	switch {
	case ev.State == api.StateCanceled:
		what := ""
		if j.Kind == api.JobSnapshot {
			what = ", nothing was committed"
		}
		return ev, interruptedError{fmt.Sprintf("canceled; job %s was canceled%s", j.ID, what)}
	case ev.State == api.StateDone, ev.State == api.StateFailed:
		// It ended before the cancel reached it: report that end.
		return ev, err
	case waitCtx.Err() != nil:
		return ev, interruptedError{fmt.Sprintf("interrupted again; stopped waiting for job %s, which may still be running (see: vmrep jobs show %s)", j.ID, j.ID)}
	}
	return ev, err
}
