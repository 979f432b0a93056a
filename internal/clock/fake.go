package clock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Fake is a Clock whose time moves only when Advance, AdvanceTo or
// AdvanceToNext is called. Timers due in the advanced span fire in order of
// their deadline (creation order for equal deadlines), each with Now equal
// to its deadline; a timer created by a callback during an advance fires in
// the same advance if it falls within it.
//
// AfterFunc callbacks run synchronously in the goroutine that advances, so
// they must not wait for another Advance. Goroutines that wait on a timer
// channel or in Sleep run concurrently with the test: use BlockUntil to wait
// until they have armed their timers before advancing.
type Fake struct {
	// mu guards everything below; it is never held while a callback runs
	// or while a channel value is sent to a reader that may block.
	mu      sync.Mutex
	now     time.Time
	timers  timerHeap
	seq     uint64        // creation counter: ties between equal deadlines
	changed chan struct{} // closed and replaced when the set of timers changes
}

var _ Clock = (*Fake)(nil)

// NewFake returns a fake clock that reads start until advanced.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires when the fake time reaches now+d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{clock: f, ch: make(chan time.Time, 1)}
	f.mu.Lock()
	f.armLocked(t, d)
	f.mu.Unlock()
	return t
}

// AfterFunc returns a timer that calls fn when the fake time reaches now+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	t := &fakeTimer{clock: f, fn: fn}
	f.mu.Lock()
	f.armLocked(t, d)
	f.mu.Unlock()
	return t
}

// Sleep waits until the fake time has advanced by d or ctx ends.
func (f *Fake) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := f.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pending returns the number of armed timers, sleepers included.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// Next returns the deadline of the earliest armed timer; ok is false when
// none is armed.
func (f *Fake) Next() (deadline time.Time, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.timers) == 0 {
		return time.Time{}, false
	}
	return f.timers[0].when, true
}

// BlockUntil waits until at least n timers are armed or ctx ends. Tests
// call it before advancing so that the goroutine under test has reached
// its next wait.
func (f *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		if len(f.timers) >= n {
			f.mu.Unlock()
			return nil
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Advance moves the fake time forward by d, firing the timers due.
func (f *Fake) Advance(d time.Duration) {
	if d < 0 {
		panic("clock: Advance with a negative duration")
	}
	f.mu.Lock()
	target := f.now.Add(d)
	f.mu.Unlock()
	f.AdvanceTo(target)
}

// AdvanceTo moves the fake time forward to t, firing the timers due; a t
// before the current time fires nothing and leaves the time as it is.
func (f *Fake) AdvanceTo(t time.Time) {
	for {
		f.mu.Lock()
		if len(f.timers) == 0 || f.timers[0].when.After(t) {
			if t.After(f.now) {
				f.now = t
			}
			f.mu.Unlock()
			return
		}
		ft := heap.Pop(&f.timers).(*fakeTimer)
		ft.index = -1
		if ft.when.After(f.now) {
			f.now = ft.when
		}
		now := f.now
		f.notifyLocked()
		f.mu.Unlock()
		ft.fire(now)
	}
}

// AdvanceToNext moves the fake time to the earliest armed deadline and
// fires the timers due then; it reports false, and does nothing, when no
// timer is armed.
func (f *Fake) AdvanceToNext() bool {
	next, ok := f.Next()
	if ok {
		f.AdvanceTo(next)
	}
	return ok
}

func (f *Fake) armLocked(t *fakeTimer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	f.seq++
	t.when, t.seq = f.now.Add(d), f.seq
	heap.Push(&f.timers, t)
	f.notifyLocked()
}

func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

type fakeTimer struct {
	clock *Fake
	ch    chan time.Time // nil for AfterFunc timers
	fn    func()         // nil for channel timers
	when  time.Time
	seq   uint64
	index int // in clock.timers; -1 when not armed
}

func (t *fakeTimer) fire(now time.Time) {
	if t.fn != nil {
		t.fn()
		return
	}
	select { // capacity 1, as time.Timer: a value not yet read is kept
	case t.ch <- now:
	default:
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

// Stop disarms the timer and drops a value sent but not read, so that no
// stale time is received after Stop returns (Go 1.23 timer semantics).
func (t *fakeTimer) Stop() bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	return t.stopLocked()
}

func (t *fakeTimer) stopLocked() bool {
	f := t.clock
	active := false
	if t.index >= 0 {
		heap.Remove(&f.timers, t.index)
		t.index = -1
		f.notifyLocked()
		active = true
	}
	if t.ch != nil {
		select {
		case <-t.ch:
			active = true
		default:
		}
	}
	return active
}

// Reset re-arms the timer d from the current fake time.
func (t *fakeTimer) Reset(d time.Duration) bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	active := t.stopLocked()
	f.armLocked(t, d)
	return active
}

// timerHeap orders timers by deadline, then creation.
type timerHeap []*fakeTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*fakeTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}
