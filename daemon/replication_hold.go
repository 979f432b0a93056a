package daemon

import "github.com/vmrep/vmrep/api"

// hold counts a replication request as running work without making it a
// job, so gc (which needs the store to itself) waits while blobs arrive or
// a snapshot is committed, and the request is refused while gc runs or is
// queued: a sweep racing a commit could delete blobs the commit just
// found, and a request is answered at once rather than queued (the sender
// retries).
func (m *jobManager) hold(what string) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return nil, errShuttingDown
	}
	if m.mu.exclusive != "" {
		return nil, api.Errorf(api.CodeBusy, "%s is running and needs the store to itself; %s must wait", m.mu.exclusive, what)
	}
	if m.exclusiveLocked() != "" {
		return nil, api.Errorf(api.CodeBusy, "a gc is queued and needs the store to itself; %s must wait", what)
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
