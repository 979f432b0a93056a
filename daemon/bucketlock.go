package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/cas"
)

// BucketOptions tune how a daemon shares a bucket with other daemons
// (doc/design.md, "Many daemons, one bucket"). Zero values take defaults.
type BucketOptions struct {
	Lease        time.Duration // a lock's life without refresh; default cas.DefaultLease
	GCGrace      time.Duration // dead blobs wait this long before gc deletes them; default 1 h, at least 2 leases
	RefreshEvery time.Duration // index refresh while idle; default 1 min
}

// DefaultGCGrace is how long gc of a shared bucket holds dead blobs.
const DefaultGCGrace = time.Hour

func (o BucketOptions) withDefaults() BucketOptions {
	if o.Lease <= 0 {
		o.Lease = cas.DefaultLease
	}
	if o.GCGrace <= 0 {
		o.GCGrace = DefaultGCGrace
	}
	// The grace must outlast any writer's lease, or a writer that lost its
	// lock unawares could still name a blob gc deletes.
	o.GCGrace = max(o.GCGrace, 2*o.Lease)
	if o.RefreshEvery <= 0 {
		o.RefreshEvery = time.Minute
	}
	return o
}

// bucketLock is this daemon's part in the locks of a shared bucket: one
// writer (shared) lock while any of its jobs or replication requests runs,
// and the exclusive lock for gc. The job manager already keeps gc apart from
// this daemon's own jobs; the bucket lock keeps it apart from other
// daemons'.
type bucketLock struct {
	store  *cas.Store
	locker cas.Locker
	opts   BucketOptions
	log    *slog.Logger

	mu    sync.Mutex // held while the shared lock is taken or dropped
	held  cas.HeldLock
	users int

	// observe, when set (tests), learns each lock of this daemon right
	// after it is taken and right before it is released.
	observe func(mode cas.LockMode, held bool)
}

func newBucketLock(store *cas.Store, opts BucketOptions, log *slog.Logger) *bucketLock {
	l := store.Locker()
	if l == nil {
		return nil // a local store: its flock keeps other processes out
	}
	return &bucketLock{store: store, locker: l, opts: opts.withDefaults(), log: log}
}

// shared joins this daemon's writer lock, taking it (and refreshing the
// index, so that packs another daemon's gc deleted are never deduplicated
// against) when no other user holds it.
func (b *bucketLock) shared(ctx context.Context, why string, waiting func(*cas.LockBusyError)) (func(), cas.HeldLock, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held != nil && b.held.Err() != nil {
		return nil, nil, fmt.Errorf("%s: %w", why, b.held.Err())
	}
	if b.users == 0 {
		h, err := cas.WaitLock(ctx, b.locker, cas.LockRequest{Mode: cas.LockShared, Why: why, Store: b.store.Dir(), Lease: b.opts.Lease}, waiting)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: taking the bucket's writer lock: %w", why, err)
		}
		if _, err := b.store.Refresh(ctx); err != nil {
			b.release(h)
			return nil, nil, err
		}
		b.held = h
		b.observed(cas.LockShared, true)
	}
	b.users++
	h := b.held
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.users--; b.users == 0 {
				b.observed(cas.LockShared, false)
				b.release(b.held)
				b.held = nil
			}
		})
	}, h, nil
}

// exclusive takes the bucket for gc and refreshes the index, so that
// every daemon's snapshots count as roots.
func (b *bucketLock) exclusive(ctx context.Context, waiting func(*cas.LockBusyError)) (cas.HeldLock, error) {
	h, err := cas.WaitLock(ctx, b.locker, cas.LockRequest{Mode: cas.LockExclusive, Why: "gc", Store: b.store.Dir(), Lease: b.opts.Lease}, waiting)
	if err != nil {
		return nil, fmt.Errorf("gc: taking the bucket's exclusive lock: %w", err)
	}
	if _, err := b.store.Refresh(ctx); err != nil {
		b.release(h)
		return nil, fmt.Errorf("gc: %w", err)
	}
	b.observed(cas.LockExclusive, true)
	return h, nil
}

func (b *bucketLock) observed(mode cas.LockMode, held bool) {
	if b.observe != nil {
		b.observe(mode, held)
	}
}

func (b *bucketLock) release(h cas.HeldLock) {
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.Lease)
	defer cancel()
	if err := h.Release(ctx); err != nil {
		b.log.Warn("releasing the bucket lock; others ignore it once it expires", "err", err, "expires", h.Info().Expires)
	}
}

// refreshLoop refreshes the index every RefreshEvery while no job runs,
// so that reads (snapshot lists, restores) see what other daemons wrote.
// A refresh takes the writer lock, so it never reads a bucket a gc is
// changing; it skips a turn while one is.
func (b *bucketLock) refreshLoop(ctx context.Context) {
	t := time.NewTicker(b.opts.RefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b.mu.Lock()
		if b.users == 0 {
			h, err := b.locker.TryLock(ctx, cas.LockRequest{Mode: cas.LockShared, Why: "index refresh", Store: b.store.Dir(), Lease: b.opts.Lease})
			if err == nil {
				b.observed(cas.LockShared, true)
				if _, err := b.store.Refresh(ctx); err != nil {
					b.log.Warn("refreshing the index from the bucket", "err", err)
				}
				b.observed(cas.LockShared, false)
				b.release(h)
			}
		}
		b.mu.Unlock()
	}
}

// runUnderBucket runs a job's fn under the bucket lock its kind needs:
// exclusive for gc, shared for the rest. While it waits for the bucket the
// job shows as queued, naming the holder; a lock lost while fn runs
// (not refreshed in time, taken over) ends fn.
func (m *jobManager) runUnderBucket(ctx context.Context, w *waiter, fn func(ctx context.Context, j *job) (any, error)) (any, error) {
	j := w.j
	if m.bucket == nil {
		return m.guard(ctx, j, fn)
	}
	var h cas.HeldLock
	var err error
	waiting := j.waitingForBucket()
	if w.exclusive {
		if h, err = m.bucket.exclusive(ctx, waiting); err != nil {
			return nil, err
		}
		defer func() {
			m.bucket.observed(cas.LockExclusive, false)
			m.bucket.release(h)
		}()
	} else {
		var release func()
		if release, h, err = m.bucket.shared(ctx, j.kind, waiting); err != nil {
			return nil, err
		}
		defer release()
	}
	j.bucketTaken()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-h.Lost():
			cancel()
		case <-lctx.Done():
		}
	}()
	res, err := m.guard(lctx, j, fn)
	if lerr := h.Err(); lerr != nil && ctx.Err() == nil {
		return res, fmt.Errorf("%s stopped: %w", j.kind, lerr)
	}
	return res, err
}

// holdBucket is jobManager.hold for a replication request, plus this
// daemon's writer lock on a shared bucket.
func (m *jobManager) holdBucket(ctx context.Context, what string) (func(), error) {
	release, err := m.hold(ctx, what)
	if err != nil || m.bucket == nil {
		return release, err
	}
	brelease, _, err := m.bucket.shared(ctx, what, nil)
	if err != nil {
		release()
		var busy *cas.LockBusyError
		if errors.As(err, &busy) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, api.Errorf(api.CodeBusy, "%v", err)
		}
		return nil, err
	}
	return func() { brelease(); release() }, nil
}

// waitingForBucket returns the callback that shows j as queued behind the
// holder of the bucket, one message per holder.
func (j *job) waitingForBucket() func(*cas.LockBusyError) {
	var last string
	return func(e *cas.LockBusyError) {
		if e.Held.ID == last {
			return
		}
		last = e.Held.ID
		j.mu.Lock()
		defer j.mu.Unlock()
		j.mu.state = api.StateQueued
		j.mu.message = bucketWaitPrefix + e.Error()
		j.changedLocked()
	}
}

// bucketTaken shows j running again once it has the bucket.
func (j *job) bucketTaken() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.mu.state == api.StateQueued {
		j.mu.state, j.mu.message = api.StateRunning, ""
		j.changedLocked()
	}
}

// startBucket sets up the bucket locks of a shared store and its idle
// index refresh, owned by the job manager (shutdown waits for it).
func (s *Server) startBucket(opts BucketOptions) {
	s.jobs.bucket = newBucketLock(s.store, opts, s.log)
	if s.jobs.bucket == nil {
		return
	}
	s.jobs.wg.Add(1)
	go func() {
		defer s.jobs.wg.Done()
		s.jobs.bucket.refreshLoop(s.jobs.ctx)
	}()
}

// bucketWaitPrefix starts the message of a job waiting for the bucket.
const bucketWaitPrefix = "waiting for the shared bucket: "

// bucketWaits lists the jobs waiting for the shared bucket, for status.
func (m *jobManager) bucketWaits() []string {
	m.mu.Lock()
	js := make([]*job, 0, len(m.mu.jobs))
	for _, j := range m.mu.jobs {
		js = append(js, j)
	}
	m.mu.Unlock()
	var out []string
	for _, j := range js {
		j.mu.Lock()
		msg, ok := strings.CutPrefix(j.mu.message, bucketWaitPrefix)
		if ok && j.mu.state == api.StateQueued {
			out = append(out, fmt.Sprintf("%s %s: %s", j.kind, j.target, msg))
		}
		j.mu.Unlock()
	}
	sort.Strings(out)
	return out
}
