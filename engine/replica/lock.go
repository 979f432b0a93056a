package replica

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrBusy is wrapped when another process (vmrepd, or a vmrep that applies
// or verifies in-process) holds the replica's lock.
var ErrBusy = errors.New("replica is busy")

// lockDir takes an exclusive flock on the replica directory itself, not
// on a file in it, so a replica holds no file it did not hold before. The
// daemon also serialises its own jobs per directory (it can answer "busy"
// with what runs); this lock is what keeps an in-process apply on the
// target host and a daemon's apply or verify apart. The kernel drops it
// when the process dies, so a killed apply leaves nothing stale.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil // nothing there to protect yet; the caller fails on its own terms
	} else if err != nil {
		return nil, fmt.Errorf("lock replica %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: another apply, create or verify of %s is running (vmrepd or a vmrep delta apply)", ErrBusy, dir)
		}
		return nil, fmt.Errorf("lock replica %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
