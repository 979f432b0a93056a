package cas

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// LockMode says what a bucket lock allows others.
type LockMode uint8

const (
	// LockShared is a writer's lock: many may hold it at once, never with
	// an exclusive one.
	LockShared LockMode = 1
	// LockExclusive is gc's lock: one holder, and no shared lock with it.
	LockExclusive LockMode = 2
)

func (m LockMode) String() string {
	switch m {
	case LockShared:
		return "shared"
	case LockExclusive:
		return "exclusive"
	}
	return fmt.Sprintf("lockmode(%d)", uint8(m))
}

// LockInfo is what a lock object says of its holder.
type LockInfo struct {
	Mode    LockMode
	ID      string // random, names this holding
	Host    string
	PID     int
	Store   string // the holder's store directory
	Why     string // what it holds the lock for: "gc", "snapshot", …
	Created time.Time
	Expires time.Time // stale after this unless refreshed
}

// Stale reports whether the holder stopped refreshing the lock by now.
func (li LockInfo) Stale(now time.Time) bool { return now.After(li.Expires) }

// Holder names the holder in one phrase for messages.
func (li LockInfo) Holder() string {
	return fmt.Sprintf("%s on %s (pid %d, store %s)", li.Why, li.Host, li.PID, li.Store)
}

// LockRequest asks a Locker for a lock.
type LockRequest struct {
	Mode  LockMode
	Why   string
	Store string
	// Lease is how long the lock lives without a refresh; the holder
	// refreshes it every Lease/3. 0: DefaultLease.
	Lease time.Duration
	// Waiting, when set on an exclusive request, lets the taker keep its
	// lock object while writers that came first finish (new ones back
	// off), learning each one it waits for; ctx bounds the wait.
	Waiting func(*LockBusyError)
}

// DefaultLease is a lock's life without a refresh.
const DefaultLease = 2 * time.Minute

// LockBusyError says a conflicting lock is held, and by whom.
type LockBusyError struct {
	Held LockInfo
}

func (e *LockBusyError) Error() string {
	return fmt.Sprintf("the bucket is locked (%s) by %s until %s",
		e.Held.Mode, e.Held.Holder(), e.Held.Expires.UTC().Format(time.RFC3339))
}

// ErrLockLost says a held lock could not be refreshed before it expired,
// or another took it over: the work under it must stop.
var ErrLockLost = errors.New("bucket lock lost")

// HeldLock is a lock this process holds; it refreshes itself until
// Release.
type HeldLock interface {
	Info() LockInfo
	// Lost is closed when the lock was lost (Err then says why).
	Lost() <-chan struct{}
	Err() error
	// Release stops the refresh and removes the lock object.
	Release(ctx context.Context) error
}

// Locker is a Backend that several stores may share: it keeps locks in
// the shared storage. TryLock returns a *LockBusyError when a conflicting
// lock is live. A local directory is not a Locker: its flock keeps other
// processes out of the whole store.
type Locker interface {
	TryLock(ctx context.Context, req LockRequest) (HeldLock, error)
	// Locks lists the lock objects, stale ones included.
	Locks(ctx context.Context) ([]LockInfo, error)
}

// ControlObjects keeps small named objects (gc's pending list) next to the
// packs in shared storage. A missing object reads as blob.ErrNotFound.
type ControlObjects interface {
	ReadControl(ctx context.Context, name string) ([]byte, error)
	WriteControl(ctx context.Context, name string, data []byte) error
}

// Shared reports whether the store's backend is shared storage with locks.
func (s *Store) Shared() bool {
	_, ok := innerLocker(s.be)
	return ok
}

// Locker returns the backend's locks, or nil for a store that has none
// (a local directory).
func (s *Store) Locker() Locker {
	l, _ := innerLocker(s.be)
	return l
}

// Control returns the backend's control objects, or nil.
func (s *Store) Control() ControlObjects {
	if _, shared := innerLocker(s.be); !shared {
		return nil
	}
	c, _ := s.be.(ControlObjects)
	return c
}

// WaitLock takes a lock from l, retrying while a conflicting lock is live;
// waiting, when not nil, learns each conflict (to say who holds the bucket).
// It gives up when ctx ends.
func WaitLock(ctx context.Context, l Locker, req LockRequest, waiting func(*LockBusyError)) (HeldLock, error) {
	wait := 200 * time.Millisecond
	if req.Mode == LockExclusive && req.Waiting == nil {
		req.Waiting = waiting
		if req.Waiting == nil {
			req.Waiting = func(*LockBusyError) {}
		}
	}
	for {
		h, err := l.TryLock(ctx, req)
		var busy *LockBusyError
		if !errors.As(err, &busy) {
			return h, err
		}
		if waiting != nil {
			waiting(busy)
		}
		// Jittered, so two takers that saw each other do not meet again.
		d := wait/2 + rand.N(wait)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (waiting: %v)", ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}
