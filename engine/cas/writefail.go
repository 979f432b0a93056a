package cas

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// ErrReadOnly is matched (errors.Is) by every error of a write the store
// refuses because its index cannot be written: a write to it failed
// (a full or read-only file system), or it was opened read-only.
var ErrReadOnly = errors.New("store cannot be written")

// ReadOnlyError says why the store refuses writes until vmrepd restarts.
type ReadOnlyError struct {
	Why string // "no space left on device", "read-only file system", ...
	Fix string // what the operator must do
}

func (e *ReadOnlyError) Error() string {
	return fmt.Sprintf("store index cannot be written (%s); %s", e.Why, e.Fix)
}

// Is makes errors.Is(err, ErrReadOnly) true.
func (e *ReadOnlyError) Is(target error) bool { return target == ErrReadOnly }

// pebbleFatal is what Pebble's fatal log calls panic with, so that the
// store can tell them from other panics and recover. err is the first
// error among the log call's arguments, nil when there is none.
type pebbleFatal struct {
	msg string
	err error
}

func (p pebbleFatal) Error() string { return p.msg }
func (p pebbleFatal) Unwrap() error { return p.err }

// readOnlyError describes cause as the reason writes are refused.
func readOnlyError(cause error) *ReadOnlyError {
	why := cause.Error()
	var errno syscall.Errno
	if errors.As(cause, &errno) {
		why = errno.Error()
	}
	fix := "free space and restart vmrepd"
	if errors.Is(cause, syscall.EROFS) {
		fix = "make the file system writable and restart vmrepd"
	}
	return &ReadOnlyError{Why: why, Fix: fix}
}

// diskFull tells the write errors a full or read-only file system gives,
// and the store's own refusal that follows them.
func diskFull(err error) bool {
	return errors.Is(err, ErrReadOnly) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EDQUOT)
}

// writable returns the error every write gets once the store refuses
// writes, nil while it accepts them.
func (s *Store) writable() error {
	if e := s.writeErr.Load(); e != nil {
		return e
	}
	return nil
}

// ReadOnly returns why the store refuses writes (a *ReadOnlyError), nil
// while it accepts them. Reads go on either way.
func (s *Store) ReadOnly() error { return s.writable() }

// failWrites makes every later write fail with the error cause gives. The
// first call logs it; the error returned is the sticky one.
func (s *Store) failWrites(cause error) error {
	if s.writeErr.CompareAndSwap(nil, readOnlyError(cause)) {
		s.log.Error("store index cannot be written: every write fails until vmrepd restarts, reads go on",
			"store", s.dir, "err", cause)
	}
	return s.writeErr.Load()
}

// indexWrite runs fn, which writes to the index, in the calling goroutine.
// Every index write goes through it. Pebble reports a failed WAL write
// ("fatal commit error") through its fatal log, which panics; after it the
// index takes no more writes, so the panic becomes the store's sticky
// write error instead of killing the process.
func (s *Store) indexWrite(fn func() error) (err error) {
	if err := s.writable(); err != nil {
		return err
	}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		pf, ok := r.(pebbleFatal)
		if !ok {
			panic(r)
		}
		err = s.failWrites(pf)
	}()
	if err := fn(); err != nil {
		if diskFull(err) {
			return s.failWrites(err)
		}
		return err
	}
	return nil
}

// quietLog lets the first message through, then at most one per interval,
// counting the ones it held back: Pebble retries a failed flush at once,
// and a full disk would otherwise log thousands of lines a second.
type quietLog struct {
	interval time.Duration
	mu       struct {
		sync.Mutex
		last   time.Time
		held   int
		logged bool
	}
}

// allow reports whether to log now, and how many were held back before.
func (q *quietLog) allow(now time.Time) (bool, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.logged && now.Sub(q.mu.last) < q.interval {
		q.mu.held++
		return false, 0
	}
	held := q.mu.held
	q.mu.logged, q.mu.last, q.mu.held = true, now, 0
	return true, held
}

// indexBackgroundError is Pebble's BackgroundError callback (a failed
// flush or compaction). A full or read-only disk also fails the store for
// writes: with flushes failing, a commit would otherwise wait for room in
// the memtables for ever.
func (s *Store) indexBackgroundError(err error) {
	if diskFull(err) {
		s.failWrites(err)
	}
	if ok, held := s.pebbleQuiet.allow(time.Now()); ok {
		s.log.Error("store index: background work failed", "store", s.dir, "err", err,
			"similar_errors_not_logged", held)
	}
}
