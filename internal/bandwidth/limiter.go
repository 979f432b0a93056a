package bandwidth

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/vmrep/vmrep/internal/clock"
)

const (
	minBurst = 512      // so that tiny rates still move a useful write at once
	maxBurst = 16 << 20 // bounds the bucket at high rates: 16 MiB is 13 ms at 10 Gbit/s
)

// DefaultBurst returns the bucket size NewLimiter uses for rate: a tenth
// of a second's worth, between 512 bytes and 16 MiB. With it a one-second
// window passes at most 1.1 times the rate (the bucket plus one second of
// refill); below 5 kB/s the 512-byte floor allows more.
func DefaultBurst(rate Rate) int {
	return int(min(max(int64(rate)/10, minBurst), maxBurst))
}

// Limiter is a token bucket over bytes: tokens accrue at the rate up to
// the burst, and each byte takes one. Waits queue behind each other
// (reservations may drive the bucket below zero), so concurrent streams
// share the rate. A nil *Limiter is no limit. Safe for concurrent use.
type Limiter struct {
	clock clock.Clock
	rate  float64 // bytes per second
	burst int

	mu struct {
		sync.Mutex
		tokens float64   // may be negative: bytes reserved ahead of time
		last   time.Time // when tokens was last brought up to date
	}
}

// NewLimiter returns a limiter at rate with a bucket of burst bytes
// (DefaultBurst when burst <= 0), reading time from c (the system clock
// when nil). The bucket starts full. For Unlimited it returns nil, which
// limits nothing.
func NewLimiter(rate Rate, burst int, c clock.Clock) *Limiter {
	if rate <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = DefaultBurst(rate)
	}
	if c == nil {
		c = clock.Real{}
	}
	l := &Limiter{clock: c, rate: float64(rate), burst: burst}
	l.mu.tokens = float64(burst)
	l.mu.last = c.Now()
	return l
}

// Rate returns the limit; Unlimited for a nil limiter.
func (l *Limiter) Rate() Rate {
	if l == nil {
		return Unlimited
	}
	return Rate(l.rate)
}

// Burst returns the bucket size in bytes, the most one Wait lets pass at
// once; 0 for a nil limiter.
func (l *Limiter) Burst() int {
	if l == nil {
		return 0
	}
	return l.burst
}

// Wait blocks until n bytes may pass, or ctx ends. n larger than the burst
// is taken a burst at a time. When ctx ends, the bytes not yet let pass
// are given back to the bucket and ctx.Err() is returned.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	if l == nil || n <= 0 {
		return nil
	}
	for n > 0 {
		c := min(n, l.burst)
		if err := l.clock.Sleep(ctx, l.reserve(c)); err != nil {
			l.refund(c)
			return err
		}
		n -= c
	}
	return nil
}

// reserve takes n tokens (n <= burst) and returns how long to wait until
// the bucket has paid for them.
func (l *Limiter) reserve(n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refillLocked()
	l.mu.tokens -= float64(n)
	if l.mu.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.mu.tokens / l.rate * float64(time.Second))
}

func (l *Limiter) refund(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refillLocked()
	l.mu.tokens = min(l.mu.tokens+float64(n), float64(l.burst))
}

func (l *Limiter) refillLocked() {
	now := l.clock.Now()
	if elapsed := now.Sub(l.mu.last); elapsed > 0 {
		l.mu.tokens = min(l.mu.tokens+elapsed.Seconds()*l.rate, float64(l.burst))
		l.mu.last = now
	}
}

// Reader returns r limited by l: each Read reads at most a burst and then
// waits for the bytes it read. Waits end with ctx. A nil l returns r.
func (l *Limiter) Reader(ctx context.Context, r io.Reader) io.Reader {
	if l == nil {
		return r
	}
	return &reader{ctx: ctx, l: l, r: r}
}

// Writer returns w limited by l: each Write waits before passing each
// burst-sized piece on. Waits end with ctx. A nil l returns w.
func (l *Limiter) Writer(ctx context.Context, w io.Writer) io.Writer {
	if l == nil {
		return w
	}
	return &writer{ctx: ctx, l: l, w: w}
}

type reader struct {
	ctx context.Context
	l   *Limiter
	r   io.Reader
}

func (r *reader) Read(p []byte) (int, error) {
	if len(p) > r.l.burst {
		p = p[:r.l.burst]
	}
	n, err := r.r.Read(p)
	if n > 0 {
		if werr := r.l.Wait(r.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

type writer struct {
	ctx context.Context
	l   *Limiter
	w   io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		c := min(len(p)-done, w.l.burst)
		if err := w.l.Wait(w.ctx, c); err != nil {
			return done, err
		}
		n, err := w.w.Write(p[done : done+c])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}
