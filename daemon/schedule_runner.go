package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/clock"
)

// scheduler runs the schedules: one loop per schedule waits on the clock
// for the next slot (or retry) and starts the run as a job. The loops
// never run the work themselves, so a slot that comes while the previous
// run is still busy is seen, skipped and counted.
type scheduler struct {
	s     *Server
	clock clock.Clock
	path  string
	log   *slog.Logger
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup // the loops

	mu struct {
		sync.Mutex
		entries map[string]*scheduleEntry // by VG ID
		// rpoHooks is closed when the newest RPO hook started has ended.
		rpoHooks chan struct{}
	}
}

// scheduleEntry is a schedule with its loop; rec and the fields below it
// are guarded by scheduler.mu.
type scheduleEntry struct {
	rec     *scheduleRecord
	wake    chan struct{} // buffered 1: the spec, the pause or a run changed
	cancel  context.CancelFunc
	running bool
	// lastSlot is the last regular slot handled (run or skipped); the
	// next one is strictly after it.
	lastSlot time.Time
	// retryAt is when a failed run is tried again; zero: no retry due.
	retryAt time.Time
	// rpoTimer fires when the lag will pass the RPO; nil when none is due.
	rpoTimer clock.Timer
}

func newScheduler(s *Server, c clock.Clock, storeDir string, log *slog.Logger) *scheduler {
	ctx, stop := context.WithCancel(context.Background())
	sc := &scheduler{s: s, clock: c, path: filepath.Join(storeDir, schedulesFile), log: log, ctx: ctx, stop: stop}
	sc.mu.entries = map[string]*scheduleEntry{}
	recs, err := loadSchedules(sc.path)
	if err != nil {
		log.Error("schedules: starting without them", "err", err)
	}
	now := c.Now()
	for _, rec := range recs {
		sc.startLocked(rec, now)
	}
	return sc
}

// startLocked adds rec and starts its loop; missed slots before now are
// not caught up.
func (sc *scheduler) startLocked(rec *scheduleRecord, now time.Time) *scheduleEntry {
	ctx, cancel := context.WithCancel(sc.ctx)
	e := &scheduleEntry{rec: rec, wake: make(chan struct{}, 1), cancel: cancel, lastSlot: now}
	rec.Status.Running = ""
	sc.mu.entries[rec.VGID] = e
	sc.nextLocked(e)
	sc.checkRPOLocked(e)
	sc.wg.Add(1)
	go sc.loop(ctx, e)
	return e
}

// shutdown ends the loops; runs in progress are jobs, which the job
// manager cancels and waits for.
func (sc *scheduler) shutdown() {
	sc.stop()
	sc.mu.Lock()
	for _, e := range sc.mu.entries {
		if e.rpoTimer != nil {
			e.rpoTimer.Stop()
		}
	}
	sc.mu.Unlock()
	sc.wg.Wait()
}

// nextLocked computes when e is next due, records it and reports it;
// false while paused.
func (sc *scheduler) nextLocked(e *scheduleEntry) (time.Time, bool) {
	rec := e.rec
	if _, cut := sc.s.cutovers.get(rec.VGID); rec.Paused || cut {
		rec.Status.NextRun = nil
		return time.Time{}, false
	}
	due := nextSlot(rec.Anchor, rec.every, e.lastSlot)
	if !e.retryAt.IsZero() && e.retryAt.Before(due) {
		due = e.retryAt
	}
	d := due
	rec.Status.NextRun = &d
	return due, true
}

func (sc *scheduler) loop(ctx context.Context, e *scheduleEntry) {
	defer sc.wg.Done()
	for {
		sc.mu.Lock()
		due, ok := sc.nextLocked(e)
		sc.mu.Unlock()
		var fire <-chan time.Time
		var t clock.Timer
		if ok {
			t = sc.clock.NewTimer(due.Sub(sc.clock.Now()))
			fire = t.C()
		}
		select {
		case <-ctx.Done():
		case <-e.wake:
		case now := <-fire:
			sc.fire(e, due, now)
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// fire handles a due time: a retry, or a regular slot (every slot up to
// now counts as handled), and starts the run unless one is busy.
func (sc *scheduler) fire(e *scheduleEntry, due, now time.Time) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	rec := e.rec
	if due.Equal(e.retryAt) {
		e.retryAt = time.Time{}
	}
	regular := false
	for s := nextSlot(rec.Anchor, rec.every, e.lastSlot); !s.After(now); s = nextSlot(rec.Anchor, rec.every, e.lastSlot) {
		e.lastSlot, regular = s, true
	}
	if e.running {
		if regular {
			rec.Status.RunsSkipped++
			sc.s.metrics.scheduleRuns.WithLabelValues(rec.VG, runSkipped).Inc()
			sc.log.Warn("schedule: run skipped, the previous one is still running", "vg", rec.VG, "job", rec.Status.Running)
			sc.saveLocked()
		}
		return
	}
	e.running = true
	vgID, spec := rec.VGID, rec.Spec
	keep, lastSnap := rec.keep, rec.Status.LastSnapshot
	start := sc.clock.Now()
	j, err := sc.s.jobs.start(api.JobSchedule, rec.VG, func(ctx context.Context, j *job) (any, error) {
		res, err := sc.s.runScheduled(ctx, j, vgID, spec, keep, lastSnap, func(snap string, created time.Time) { sc.setLastSnapshot(e, snap, created) })
		sc.finished(e, j.id, start, err)
		if err != nil {
			return nil, err
		}
		return res, nil
	}, nil)
	if err != nil {
		e.running = false
		sc.log.Warn("schedule: run not started", "vg", rec.VG, "err", err)
		return
	}
	rec.Status.Running = j.id
}

// setLastSnapshot records the snapshot a run took as soon as it is taken
// and sent on, so that the base of the next delta is pinned from then;
// the snapshot, taken at created, is the destination's recovery point.
func (sc *scheduler) setLastSnapshot(e *scheduleEntry, snap string, created time.Time) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	e.rec.Status.LastSnapshot = snap
	e.rec.delivered(created)
	sc.saveLocked()
	sc.checkRPOLocked(e)
}

// finished records how a run went; after a failure it wakes the loop,
// which arms the retry.
func (sc *scheduler) finished(e *scheduleEntry, jobID string, start time.Time, err error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	e.running = false
	st := &e.rec.Status
	st.Running = ""
	if errors.Is(err, context.Canceled) && sc.ctx.Err() != nil {
		return // the daemon is stopping: not the run's fault
	}
	end := sc.clock.Now()
	st.LastRun, st.LastJob, st.LastDuration = &start, jobID, end.Sub(start).Seconds()
	sc.s.metrics.scheduleRan(e.rec.VG, err)
	if err == nil {
		st.LastResult, st.Failures = api.RunOK, 0
		st.RunsOK++
		e.retryAt = time.Time{}
	} else {
		msg := toAPIError(err).Message
		st.LastResult, st.LastError, st.LastErrorTime = api.RunFailed, msg, &end
		st.Failures++
		st.RunsFailed++
		e.retryAt = end.Add(retryBackoff(st.Failures, e.rec.every))
		sc.log.Warn("schedule: run failed", "vg", e.rec.VG, "job", jobID, "failures", st.Failures, "retry", e.retryAt, "err", msg)
	}
	if sc.mu.entries[e.rec.VGID] == e {
		sc.saveLocked()
	}
	if err != nil {
		e.wakeLocked() // to arm the retry; after a good run the next slot is armed already
	}
}

// addRemoved counts snapshots retention removed.
func (sc *scheduler) addRemoved(vgID string, n int) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if e, ok := sc.mu.entries[vgID]; ok {
		e.rec.Status.Removed += int64(n)
	}
}

// saveLocked records the schedules after a run; a failure is logged (the
// runs go on, the file is behind).
func (sc *scheduler) saveLocked() {
	if err := sc.saveAllLocked(); err != nil {
		sc.log.Error("schedules: recording", "file", sc.path, "err", err)
	}
}

func (sc *scheduler) saveAllLocked() error {
	recs := make([]*scheduleRecord, 0, len(sc.mu.entries))
	for _, e := range sc.mu.entries {
		recs = append(recs, e.rec)
	}
	if err := saveSchedules(sc.path, recs); err != nil {
		return fmt.Errorf("recording the schedules in %s: %w", sc.path, err)
	}
	return nil
}

// wakeVG makes the loop of vgID's schedule, if it has one, compute its
// next run again (after a cutover: none).
func (sc *scheduler) wakeVG(vgID string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if e := sc.mu.entries[vgID]; e != nil {
		sc.nextLocked(e)
		e.wakeLocked()
	}
}

// wakeLocked makes e's loop compute its next run again.
func (e *scheduleEntry) wakeLocked() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}
