package clock

import (
	"context"
	"time"
)

// Clock tells the time and makes timers. All methods are safe for
// concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once d
	// has passed.
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f in its own goroutine (Real) or in the advancing
	// goroutine (Fake) once d has passed. The returned timer has no
	// channel.
	AfterFunc(d time.Duration, f func()) Timer
	// Sleep waits for d to pass or ctx to end, whichever is first, and
	// returns ctx.Err() in the second case.
	Sleep(ctx context.Context, d time.Duration) error
}

// Timer is a single event, as time.Timer.
type Timer interface {
	// C returns the channel the time is sent on; nil for AfterFunc timers.
	C() <-chan time.Time
	// Stop prevents the timer from firing and reports whether it did so:
	// false when it had already fired or been stopped.
	Stop() bool
	// Reset makes the timer fire d from now, and reports whether it was
	// active before.
	Reset(d time.Duration) bool
}

// Real is the system clock, a thin layer over package time.
type Real struct{}

var _ Clock = Real{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

// AfterFunc wraps time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return realTimer{time.AfterFunc(d, f)} }

// Sleep waits for d or ctx.
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// Since returns the time passed since t on c.
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }
