package daemon

import (
	"sync"

	"github.com/vmrep/vmrep/api"
)

// vgLocks lets one writer at a time work on a volume group. A second one is
// refused at once with busy rather than queued: a client would rather know.
type vgLocks struct {
	mu      sync.Mutex
	holders map[string]string // vg id -> what holds it
}

func (l *vgLocks) tryLock(vgID, vgName, what string) (func(), *api.Error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holders == nil {
		l.holders = make(map[string]string)
	}
	if h, ok := l.holders[vgID]; ok {
		return nil, api.Errorf(api.CodeBusy, "volume group %q is busy: %s is running", vgName, h)
	}
	l.holders[vgID] = what
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.holders, vgID)
			l.mu.Unlock()
		})
	}, nil
}
