package daemon

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/api"
)

// waiter is a job's place in the job manager: queued until admit is closed,
// then running until leave.
type waiter struct {
	j         *job
	exclusive bool
	admit     chan struct{}
	admitted  bool // under jobManager.mu
}

// exclusiveLocked says whether an exclusive job is "running" or "queued",
// or "" when there is none.
func (m *jobManager) exclusiveLocked() string {
	if m.mu.exclusive != "" {
		return "running"
	}
	for _, w := range m.mu.queue {
		if w.exclusive {
			return "queued"
		}
	}
	return ""
}

// mayRunLocked says whether a new job may start at once: nothing waits
// before it (so a queued gc is not overtaken), no exclusive job runs, and
// an exclusive job finds no job running.
func (m *jobManager) mayRunLocked(exclusive bool) bool {
	if len(m.mu.queue) > 0 || m.mu.exclusive != "" {
		return false
	}
	return !exclusive || m.mu.running == 0
}

// admitOneLocked lets w run.
func (m *jobManager) admitOneLocked(w *waiter) {
	m.mu.running++
	if w.exclusive {
		m.mu.exclusive = w.j.kind
	}
	w.admitted = true
	w.j.mu.Lock()
	w.j.mu.state = api.StateRunning
	w.j.mu.phase, w.j.mu.message, w.j.mu.done = "", "", 0
	w.j.changedLocked()
	w.j.mu.Unlock()
	close(w.admit)
}

// admitLocked starts queued jobs in order for as long as the store allows:
// an exclusive job once nothing runs, the others once no exclusive job runs.
func (m *jobManager) admitLocked() {
	for len(m.mu.queue) > 0 && m.mu.exclusive == "" {
		w := m.mu.queue[0]
		if w.exclusive && m.mu.running > 0 {
			break
		}
		m.mu.queue = m.mu.queue[1:]
		m.admitOneLocked(w)
	}
	m.queuedProgressLocked()
	m.signalLocked()
}

// queuedProgressLocked tells each queued job what it waits for.
func (m *jobManager) queuedProgressLocked() {
	for _, w := range m.mu.queue {
		msg := fmt.Sprintf("queued behind %d jobs", m.mu.running)
		if m.mu.exclusive != "" {
			msg = fmt.Sprintf("queued behind %s, which needs the store to itself", m.mu.exclusive)
		}
		w.j.mu.Lock()
		if w.j.mu.message != msg || w.j.mu.phase != api.StateQueued {
			w.j.mu.phase, w.j.mu.message = api.StateQueued, msg
			w.j.mu.done = int64(m.mu.running)
			w.j.changedLocked()
		}
		w.j.mu.Unlock()
	}
}

// await blocks until w may run, and reports whether it may; false when the
// job was canceled (or the daemon shuts down) while it waited.
func (m *jobManager) await(ctx context.Context, w *waiter) bool {
	select {
	case <-w.admit:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

// leave takes w out of the manager, queued or running, and admits whoever
// may now run.
func (m *jobManager) leave(w *waiter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w.admitted {
		m.mu.running--
		if w.exclusive {
			m.mu.exclusive = ""
		}
	} else {
		for i, q := range m.mu.queue {
			if q == w {
				m.mu.queue = append(m.mu.queue[:i:i], m.mu.queue[i+1:]...)
				break
			}
		}
	}
	m.admitLocked()
}
