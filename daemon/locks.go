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

// dirLocks lets one job at a time write a replica directory: two applies
// racing on the same volume files would each see the other's writes as a
// replica at neither base nor target.
type dirLocks struct {
	mu      sync.Mutex
	holders map[string]string // lockKey -> what holds it
}

func (l *dirLocks) tryLock(dir, what string) (func(), *api.Error) {
	key := lockKey(dir)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holders == nil {
		l.holders = make(map[string]string)
	}
	if h, ok := l.holders[key]; ok {
		return nil, api.Errorf(api.CodeBusy, "replica %s is busy: %s is running", dir, h)
	}
	l.holders[key] = what
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.holders, key)
			l.mu.Unlock()
		})
	}, nil
}
