package bandwidth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/clock"
)

var epoch = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func TestReserve(t *testing.T) {
	f := clock.NewFake(epoch)
	l := NewLimiter(1000, 100, f) // 1000 B/s, bucket of 100 B
	for _, step := range []struct {
		advance time.Duration
		n       int
		want    time.Duration
	}{
		{0, 100, 0},                                         // a full bucket
		{0, 100, 100 * time.Millisecond},                    // 100 B more: 0.1 s
		{0, 50, 150 * time.Millisecond},                     // queued behind the first wait
		{150 * time.Millisecond, 10, 10 * time.Millisecond}, // paid up, empty bucket
		{time.Hour, 100, 0},                                 // refilled, but only to the burst
		{0, 1, time.Millisecond},
	} {
		f.Advance(step.advance)
		if got := l.reserve(step.n); got != step.want {
			t.Fatalf("after +%v, reserve(%d) = %v, want %v", step.advance, step.n, got, step.want)
		}
	}
}

func TestNilLimiterLimitsNothing(t *testing.T) {
	l := NewLimiter(Unlimited, 0, nil)
	if l != nil {
		t.Fatal("NewLimiter(Unlimited) != nil")
	}
	if err := l.Wait(context.Background(), 1<<30); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if l.Writer(context.Background(), &buf) != io.Writer(&buf) || l.Rate() != Unlimited || l.Burst() != 0 {
		t.Error("nil limiter wraps its writer or reports a rate")
	}
	r := bytes.NewReader(nil)
	if l.Reader(context.Background(), r) != io.Reader(r) {
		t.Error("nil limiter wraps its reader")
	}
}

func TestDefaultBurst(t *testing.T) {
	for _, tc := range []struct {
		rate Rate
		want int
	}{{25_000_000, 2_500_000}, {1000, 512}, {10e9, 16 << 20}} {
		if got := DefaultBurst(tc.rate); got != tc.want {
			t.Errorf("DefaultBurst(%v) = %d, want %d", tc.rate, got, tc.want)
		}
	}
	if l := NewLimiter(25_000_000, 0, nil); l.Burst() != 2_500_000 || l.Rate() != 25_000_000 {
		t.Errorf("NewLimiter default burst %d rate %v", l.Burst(), l.Rate())
	}
}

// sample is the fake time at which a write of cumulative bytes ended.
type sample struct {
	at    time.Duration
	total int64
}

type recorder struct {
	c       clock.Clock
	start   time.Time
	total   int64
	samples []sample
}

func (r *recorder) Write(p []byte) (int, error) {
	r.total += int64(len(p))
	r.samples = append(r.samples, sample{r.c.Now().Sub(r.start), r.total})
	return len(p), nil
}

// maxWindow returns the most bytes any window of length w saw.
func maxWindow(samples []sample, w time.Duration) int64 {
	var best int64
	j := 0
	for i := range samples {
		for samples[i].at-samples[j].at > w {
			j++
		}
		var before int64
		if j > 0 {
			before = samples[j-1].total
		}
		best = max(best, samples[i].total-before)
	}
	return best
}

// drive advances f each time the single goroutine under test sleeps, until
// done is closed.
func drive(t *testing.T, f *clock.Fake, done <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-done; cancel() }()
	for f.BlockUntil(ctx, 1) == nil {
		f.AdvanceToNext()
	}
}

// A simulated 30-second copy through Writer at 50 and 200 Mbit/s: the
// rate holds within 1% and no one-second window exceeds 1.1 times it.
func TestWriterHoldsRateInSimulatedTime(t *testing.T) {
	for _, rate := range []Rate{6_250_000, 25_000_000} {
		t.Run(rate.String(), func(t *testing.T) {
			f := clock.NewFake(epoch)
			l := NewLimiter(rate, 0, f)
			rec := &recorder{c: f, start: epoch}
			w := l.Writer(context.Background(), rec)
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]byte, 64<<10)
				for f.Now().Sub(epoch) < 30*time.Second {
					if _, err := w.Write(buf); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			drive(t, f, done)
			elapsed := f.Now().Sub(epoch)
			got := float64(rec.total) / elapsed.Seconds()
			if dev := got/float64(rate) - 1; dev > 0.01 || dev < -0.01 {
				t.Errorf("achieved %.0f B/s over %v, %.2f%% off %v", got, elapsed, dev*100, rate)
			}
			if ratio := float64(maxWindow(rec.samples, time.Second)) / float64(rate); ratio > 1.1+1e-9 {
				t.Errorf("a one-second window passed %.3f times the rate", ratio)
			}
		})
	}
}

func TestReaderLimitsAndPassesData(t *testing.T) {
	f := clock.NewFake(epoch)
	l := NewLimiter(1000, 100, f)
	src := bytes.Repeat([]byte("0123456789"), 100) // 1000 bytes
	r := l.Reader(context.Background(), bytes.NewReader(src))
	var got []byte
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		got, err = io.ReadAll(r)
	}()
	drive(t, f, done)
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("ReadAll = %d bytes, %v; want the 1000 source bytes", len(got), err)
	}
	// 100 from the full bucket, 900 at 1000 B/s.
	if el := f.Now().Sub(epoch); el != 900*time.Millisecond {
		t.Errorf("reading 1000 bytes took %v of fake time, want 900ms", el)
	}
}

func TestWaitCancelledRefunds(t *testing.T) {
	f := clock.NewFake(epoch)
	l := NewLimiter(1000, 100, f)
	if err := l.Wait(context.Background(), 100); err != nil { // empty the bucket
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- l.Wait(ctx, 100) }()
	if err := f.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	// The cancelled 100 bytes were given back: the next byte waits 1 ms,
	// not 101 ms.
	if d := l.reserve(1); d != time.Millisecond {
		t.Errorf("after a cancelled wait, reserve(1) = %v, want 1ms", d)
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after < len(p) {
		n := w.after
		w.after = 0
		return n, io.ErrShortWrite
	}
	w.after -= len(p)
	return len(p), nil
}

func TestWriterSplitsAndReportsErrors(t *testing.T) {
	l := NewLimiter(1e9, 10, clock.NewFake(epoch)) // 10-byte pieces
	ctx := context.Background()
	var chunks []int
	w := l.Writer(ctx, writerFunc(func(p []byte) (int, error) { chunks = append(chunks, len(p)); return len(p), nil }))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if n, err := w.Write(make([]byte, 25)); n != 25 || err != nil {
			t.Errorf("Write = %d, %v", n, err)
		}
	}()
	drive(t, l.clock.(*clock.Fake), done)
	if len(chunks) != 3 || chunks[0] != 10 || chunks[1] != 10 || chunks[2] != 5 {
		t.Errorf("Write passed chunks %v, want [10 10 5]", chunks)
	}
	big := NewLimiter(1e9, 1<<20, clock.NewFake(epoch)) // a full bucket: no wait
	fw := big.Writer(ctx, &failWriter{after: 7})
	if n, err := fw.Write(make([]byte, 8)); n != 7 || !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("Write to a failing writer = %d, %v; want 7, short write", n, err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Concurrent waiters share the rate: 8 goroutines moving 10 000 bytes at
// 1000 B/s with a 100-byte bucket need at least 9.9 s of fake time. Run
// with -race.
func TestConcurrentWaitersShareRate(t *testing.T) {
	f := clock.NewFake(epoch)
	l := NewLimiter(1000, 100, f)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if err := l.Wait(context.Background(), 50); err != nil {
					t.Error(err)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			if el := f.Now().Sub(epoch); el < 9900*time.Millisecond {
				t.Errorf("10000 bytes passed in %v of fake time at 1000 B/s", el)
			}
			return
		default:
		}
		if !f.AdvanceToNext() {
			time.Sleep(time.Millisecond / 10)
		}
	}
}
