package daemon

import (
	"context"

	"github.com/vmrep/vmrep/api"
)

// hold counts a replication request as running work without making it a
// job, so gc (which needs the store to itself) waits while blobs arrive or
// a snapshot is committed: a sweep racing a commit could delete blobs the
// commit just found. While a gc is queued or running, hold waits for it
// to end, as jobs do, so a stream of requests cannot starve it; it gives
// up with busy when ctx ends (the sender hung up) first.
func (m *jobManager) hold(ctx context.Context, what string) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if m.mu.closed {
			return nil, errShuttingDown
		}
		if m.exclusiveLocked() == "" {
			break
		}
		changed := m.changedLocked()
		m.mu.Unlock()
		select {
		case <-changed:
			m.mu.Lock()
		case <-ctx.Done():
			m.mu.Lock()
			return nil, api.Errorf(api.CodeBusy, "gc needs the store to itself; %s gave up waiting for it: %v", what, ctx.Err())
		}
	}
	m.mu.running++
	m.queuedProgressLocked()
	released := false
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if !released {
			released = true
			m.mu.running--
			m.admitLocked()
		}
	}, nil
}

// changedLocked returns a channel closed at the next change of what runs
// and what waits.
func (m *jobManager) changedLocked() <-chan struct{} {
	if m.mu.changed == nil {
		m.mu.changed = make(chan struct{})
	}
	return m.mu.changed
}

// signalLocked closes the channel changedLocked handed out.
func (m *jobManager) signalLocked() {
	if m.mu.changed != nil {
		close(m.mu.changed)
		m.mu.changed = nil
	}
}
