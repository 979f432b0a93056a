package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmrep/vmrep/api"
)

// job is one piece of long work. Subscribers never block it: each change
// closes the current notify channel, and they read the latest state.
type job struct {
	id      string
	kind    string
	target  string
	owner   int // uid of the caller that started it; -1: the daemon itself
	started time.Time
	cancel  context.CancelFunc

	mu struct {
		sync.Mutex
		state    string
		phase    string
		done     int64
		total    int64
		message  string
		finished time.Time
		err      *api.Error
		result   json.RawMessage
		notify   chan struct{}
		rateAt   time.Time // when the rate was last measured
		rateDone int64
		rate     float64
	}
}

// progress records how far the job has come; phase names the step.
func (j *job) progress(phase string, done, total int64, msg string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := time.Now()
	if phase != j.mu.phase {
		j.mu.rateAt, j.mu.rateDone, j.mu.rate = now, done, 0
	} else if dt := now.Sub(j.mu.rateAt).Seconds(); dt >= 0.2 {
		// Smoothed so a bar does not flicker with each batch.
		r := float64(done-j.mu.rateDone) / dt
		j.mu.rate = 0.5*j.mu.rate + 0.5*r
		j.mu.rateAt, j.mu.rateDone = now, done
	}
	j.mu.phase, j.mu.done, j.mu.total, j.mu.message = phase, done, total, msg
	j.changedLocked()
}

func (j *job) changedLocked() {
	close(j.mu.notify)
	j.mu.notify = make(chan struct{})
}

// outcome is how a job ended, before it is visible.
type outcome struct {
	state    string
	err      *api.Error
	result   []byte
	finished time.Time
}

// outcomeOf turns what the job's work returned into its final state.
func (j *job) outcomeOf(result any, err error) outcome {
	raw, merr := json.Marshal(result)
	o := outcome{finished: time.Now().UTC()}
	switch {
	case err == nil && merr != nil:
		o.state, o.err = api.StateFailed, api.Errorf(api.CodeInternal, "encoding result: %v", merr)
	case err == nil:
		o.state = api.StateDone
	case errors.Is(err, context.Canceled):
		o.state, o.err = api.StateCanceled, api.Errorf(api.CodeCanceled, "job %s was canceled", j.id)
	default:
		o.state, o.err = api.StateFailed, toAPIError(err)
	}
	if result != nil && merr == nil {
		o.result = raw
	}
	return o
}

// viewAs is the job as the API will show it once it ended with o.
func (j *job) viewAs(o outcome) api.Job {
	v := j.view()
	v.State, v.Error, v.Result, v.Finished = o.state, o.err, o.result, &o.finished
	return v
}

// finish makes the job's end visible and wakes those who follow it.
func (j *job) finish(o outcome) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.mu.state, j.mu.err, j.mu.finished = o.state, o.err, o.finished
	if o.result != nil {
		j.mu.result = o.result
	}
	j.changedLocked()
}

// view returns the job as the API shows it.
func (j *job) view() api.Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := api.Job{ID: j.id, Kind: j.kind, Target: j.target, State: j.mu.state, Started: j.started,
		Phase: j.mu.phase, Done: j.mu.done, Total: j.mu.total, Error: j.mu.err, Result: j.mu.result}
	if !j.mu.finished.IsZero() {
		f := j.mu.finished
		v.Finished = &f
	}
	return v
}

// event returns the latest event and a channel closed at the next change.
func (j *job) event() (api.Event, <-chan struct{}) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ev := api.Event{Time: time.Now().UTC(), Phase: j.mu.phase, Done: j.mu.done, Total: j.mu.total,
		Rate: j.mu.rate, Message: j.mu.message, State: j.mu.state, Error: j.mu.err, Result: j.mu.result}
	return ev, j.mu.notify
}

// jobManager runs jobs and remembers the last finished ones.
type jobManager struct {
	log     *slog.Logger
	history int
	seq     atomic.Uint64
	wg      sync.WaitGroup
	ctx     context.Context
	stop    context.CancelFunc
	// historyPath is jobsFile (jobhistory.go); empty: history in memory only.
	historyPath string
	saveMu      sync.Mutex
	// ended, when set, learns of each job that ended: its kind, state
	// (done, failed, canceled) and time from submission (metrics.go).
	ended func(kind, state string, took time.Duration)
	// bucket, when the store is a shared bucket, keeps jobs apart from
	// other daemons' (bucketlock.go); nil for a local store.
	bucket *bucketLock

	mu struct {
		sync.Mutex
		jobs      map[string]*job
		finished  []string // oldest first
		closed    bool
		running   int
		exclusive string        // kind of the job that has the store to itself
		queue     []*waiter     // jobs waiting for the store, oldest first
		changed   chan struct{} // closed when what runs or waits changes; for hold
	}
}

func newJobManager(history int, log *slog.Logger) *jobManager {
	if history <= 0 {
		history = 100
	}
	ctx, stop := context.WithCancel(context.Background())
	m := &jobManager{log: log, history: history, ctx: ctx, stop: stop}
	m.mu.jobs = make(map[string]*job)
	return m
}

var errShuttingDown = api.Errorf(api.CodeBusy, "the daemon is shutting down")

// start runs fn as a job. release, if not nil, runs when fn returns, before
// the job is seen as finished, so a lock it frees is free for the next job.
func (m *jobManager) start(kind, target string, fn func(ctx context.Context, j *job) (any, error), release func()) (*job, error) {
	return m.startJob(kind, target, -1, false, fn, release)
}

// startAs is start for a job a caller asked for: owner is the caller's uid,
// which decides who may cancel the job besides an admin.
func (m *jobManager) startAs(owner int, kind, target string, fn func(ctx context.Context, j *job) (any, error), release func()) (*job, error) {
	return m.startJob(kind, target, owner, false, fn, release)
}

// startExclusive starts a job that must have the store to itself, as gc
// must. It waits, queued, while other jobs run; once it is queued, new jobs
// wait behind it until it ends, so a steady stream of jobs cannot starve
// it. One exclusive job at a time: a second is refused while one is queued
// or running.
func (m *jobManager) startExclusive(kind, target string, fn func(ctx context.Context, j *job) (any, error)) (*job, error) {
	return m.startJob(kind, target, -1, true, fn, nil)
}

func (m *jobManager) startJob(kind, target string, owner int, exclusive bool, fn func(ctx context.Context, j *job) (any, error), release func()) (*job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return nil, errShuttingDown
	}
	if exclusive && m.exclusiveLocked() != "" {
		return nil, api.Errorf(api.CodeBusy, "%s is already %s; one is enough", kind, m.exclusiveLocked())
	}
	ctx, cancel := context.WithCancel(m.ctx)
	id := fmt.Sprintf("job-%d-%d", time.Now().Unix()%1_000_000, m.seq.Add(1))
	for m.mu.jobs[id] != nil { // a job of the history (jobhistory.go) has it
		id = fmt.Sprintf("job-%d-%d", time.Now().Unix()%1_000_000, m.seq.Add(1))
	}
	j := &job{id: id, kind: kind, target: target,
		owner: owner, started: time.Now().UTC(), cancel: cancel}
	j.mu.notify = make(chan struct{})
	m.mu.jobs[j.id] = j
	w := &waiter{j: j, exclusive: exclusive, admit: make(chan struct{})}
	if m.mayRunLocked(exclusive) {
		m.admitOneLocked(w)
	} else {
		j.mu.state = api.StateQueued
		m.mu.queue = append(m.mu.queue, w)
		m.queuedProgressLocked()
	}
	m.wg.Add(1)
	m.log.Info("job started", "job", j.id, "kind", kind, "target", target, "uid", owner, "state", j.mu.state)
	go m.run(ctx, w, fn, release)
	return j, nil
}

// run waits for w's turn, runs fn and retires the job.
func (m *jobManager) run(ctx context.Context, w *waiter, fn func(ctx context.Context, j *job) (any, error), release func()) {
	j := w.j
	defer m.wg.Done()
	defer j.cancel()
	var res any
	var err error
	if m.await(ctx, w) {
		res, err = m.runUnderBucket(ctx, w, fn)
	} else {
		err = ctx.Err()
	}
	if release != nil {
		release()
	}
	m.leave(w)
	// The history is on disk before the end is visible, so that a client
	// that saw the job end finds the daemon done writing for it.
	o := j.outcomeOf(res, err)
	m.retireAndSave(j, o)
	// Counted before the end is visible, so that a client that saw the
	// job end finds it in /metrics.
	if m.ended != nil {
		m.ended(j.kind, o.state, o.finished.Sub(j.started))
	}
	j.finish(o)
	v := j.view()
	if err != nil {
		m.log.Warn("job ended", "job", j.id, "kind", j.kind, "target", j.target, "state", v.State, "err", err)
	} else {
		m.log.Info("job ended", "job", j.id, "kind", j.kind, "target", j.target, "state", v.State)
	}
}

// guard runs fn and turns a panic in it into the job's error: a bug in
// one job fails that job, with its stack in the daemon's log, instead of
// taking down the daemon with every other job, mount and VM it runs.
func (m *jobManager) guard(ctx context.Context, j *job, fn func(ctx context.Context, j *job) (any, error)) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			m.log.Error("job panicked: a bug in vmrepd", "job", j.id, "kind", j.kind, "target", j.target,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res, err = nil, fmt.Errorf("internal error in vmrepd, a bug (the daemon's log has the stack): %v", p)
		}
	}()
	return fn(ctx, j)
}

// retire moves a finished job into the bounded history.
func (m *jobManager) retire(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.finished = append(m.mu.finished, id)
	for len(m.mu.finished) > m.history {
		delete(m.mu.jobs, m.mu.finished[0])
		m.mu.finished = m.mu.finished[1:]
	}
}

// retireAndSave retires j, which ends with o, and writes the history
// (jobhistory.go).
func (m *jobManager) retireAndSave(j *job, o outcome) {
	m.retire(j.id)
	m.saveHistory(j.id, j.viewAs(o))
}

func (m *jobManager) get(id string) (*job, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.mu.jobs[id]
	return j, ok
}

func (m *jobManager) list() []api.Job {
	m.mu.Lock()
	js := make([]*job, 0, len(m.mu.jobs))
	for _, j := range m.mu.jobs {
		js = append(js, j)
	}
	m.mu.Unlock()
	out := make([]api.Job, len(js))
	for i, j := range js {
		out[i] = j.view()
	}
	sort.Slice(out, func(a, b int) bool {
		if !out[a].Started.Equal(out[b].Started) {
			return out[a].Started.Before(out[b].Started)
		}
		return out[a].ID < out[b].ID
	})
	return out
}

// shutdown refuses new jobs, cancels the running ones and waits for them.
func (m *jobManager) shutdown() {
	m.mu.Lock()
	m.mu.closed = true
	m.signalLocked()
	m.mu.Unlock()
	m.stop()
	m.wg.Wait()
}
