package clock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

var epoch = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func TestFakeFiresInDeadlineOrder(t *testing.T) {
	f := NewFake(epoch)
	var got []string
	var at []time.Duration
	add := func(name string, d time.Duration) {
		f.AfterFunc(d, func() {
			got = append(got, name)
			at = append(at, f.Now().Sub(epoch))
		})
	}
	add("c", 3*time.Minute)
	add("a", time.Minute)
	add("b1", 2*time.Minute)
	add("b2", 2*time.Minute) // same deadline: creation order
	add("late", time.Hour)
	f.Advance(10 * time.Minute)
	want := []string{"a", "b1", "b2", "c"}
	if len(got) != len(want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fired %v, want %v", got, want)
		}
	}
	wantAt := []time.Duration{time.Minute, 2 * time.Minute, 2 * time.Minute, 3 * time.Minute}
	for i := range wantAt {
		if at[i] != wantAt[i] {
			t.Errorf("%s fired at %v, want %v", got[i], at[i], wantAt[i])
		}
	}
	if now := f.Now().Sub(epoch); now != 10*time.Minute {
		t.Errorf("Now after Advance = +%v, want +10m", now)
	}
	if f.Pending() != 1 {
		t.Errorf("Pending = %d, want 1 (late)", f.Pending())
	}
}

// A callback that re-arms itself runs a periodic schedule: a whole day of
// 15-minute runs inside one Advance.
func TestFakeAfterFuncChainWithinOneAdvance(t *testing.T) {
	f := NewFake(epoch)
	var runs []time.Time
	var tick func()
	tick = func() {
		runs = append(runs, f.Now())
		f.AfterFunc(15*time.Minute, tick)
	}
	f.AfterFunc(15*time.Minute, tick)
	f.Advance(24 * time.Hour)
	if len(runs) != 96 {
		t.Fatalf("%d runs in a day, want 96", len(runs))
	}
	for i, r := range runs {
		if want := epoch.Add(time.Duration(i+1) * 15 * time.Minute); !r.Equal(want) {
			t.Fatalf("run %d at %v, want %v", i, r, want)
		}
	}
}

// A goroutine that sleeps in a loop, as a scheduler does, driven step by
// step with BlockUntil and AdvanceToNext.
func TestFakeSimulatedDayWithSleepingGoroutine(t *testing.T) {
	f := NewFake(epoch)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var runs []time.Time
	done := make(chan error, 1)
	go func() {
		for {
			if err := f.Sleep(ctx, 15*time.Minute); err != nil {
				done <- err
				return
			}
			mu.Lock()
			runs = append(runs, f.Now())
			mu.Unlock()
		}
	}()
	for range 96 {
		if err := f.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if !f.AdvanceToNext() {
			t.Fatal("no timer armed after BlockUntil")
		}
	}
	if err := f.BlockUntil(ctx, 1); err != nil { // the 97th sleep has begun
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep returned %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(runs) != 96 {
		t.Fatalf("%d runs, want 96", len(runs))
	}
	if last := runs[95]; !last.Equal(epoch.Add(24 * time.Hour)) {
		t.Errorf("last run at %v, want %v", last, epoch.Add(24*time.Hour))
	}
	if f.Pending() != 0 {
		t.Errorf("Pending = %d after the sleeper left, want 0", f.Pending())
	}
}

func TestFakeTimerChannelStopReset(t *testing.T) {
	f := NewFake(epoch)
	tm := f.NewTimer(time.Minute)
	f.Advance(59 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("timer fired early")
	default:
	}
	f.Advance(time.Second)
	select {
	case v := <-tm.C():
		if !v.Equal(epoch.Add(time.Minute)) {
			t.Errorf("timer sent %v, want %v", v, epoch.Add(time.Minute))
		}
	default:
		t.Fatal("timer did not fire at its deadline")
	}
	if tm.Stop() {
		t.Error("Stop of a fired and read timer = true, want false")
	}

	// Fired but not read: Stop drops the value and reports true.
	tm.Reset(time.Second)
	f.Advance(time.Second)
	if !tm.Stop() {
		t.Error("Stop of a fired, unread timer = false, want true")
	}
	select {
	case <-tm.C():
		t.Error("stale value received after Stop")
	default:
	}

	// Reset of an armed timer moves its deadline.
	if tm.Reset(time.Hour) {
		t.Error("Reset of a stopped timer = true, want false")
	}
	if !tm.Reset(2 * time.Hour) {
		t.Error("Reset of an armed timer = false, want true")
	}
	f.Advance(time.Hour)
	select {
	case <-tm.C():
		t.Fatal("timer fired at its old deadline after Reset")
	default:
	}
	if next, ok := f.Next(); !ok || !next.Equal(f.Now().Add(time.Hour)) {
		t.Errorf("Next = %v %v, want %v", next, ok, f.Now().Add(time.Hour))
	}
}

func TestFakeStopAfterFunc(t *testing.T) {
	f := NewFake(epoch)
	called := false
	tm := f.AfterFunc(time.Second, func() { called = true })
	if tm.C() != nil {
		t.Error("AfterFunc timer has a channel")
	}
	if !tm.Stop() {
		t.Error("Stop of an armed AfterFunc = false")
	}
	f.Advance(time.Minute)
	if called {
		t.Error("stopped AfterFunc ran")
	}
}

func TestFakeSleepZeroAndCancelled(t *testing.T) {
	f := NewFake(epoch)
	if err := f.Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep with a done ctx = %v, want context.Canceled", err)
	}
	if f.Pending() != 0 {
		t.Errorf("Pending = %d, want 0", f.Pending())
	}
}

func TestFakeAdvanceToPastIsNoOp(t *testing.T) {
	f := NewFake(epoch)
	f.AdvanceTo(epoch.Add(-time.Hour))
	if !f.Now().Equal(epoch) {
		t.Errorf("Now = %v after AdvanceTo the past, want %v", f.Now(), epoch)
	}
	if f.AdvanceToNext() {
		t.Error("AdvanceToNext with no timers = true")
	}
}

// Many goroutines arm, stop and sleep while the test advances: run with
// -race.
func TestFakeConcurrent(t *testing.T) {
	f := NewFake(epoch)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	const workers = 8
	for i := range workers {
		wg.Go(func() {
			for j := range 50 {
				d := time.Duration(i*50+j+1) * time.Millisecond
				if j%3 == 0 {
					f.NewTimer(d).Stop()
					continue
				}
				if err := f.Sleep(ctx, d); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			f.Advance(time.Millisecond)
			_ = f.Pending()
		}
	}()
	wg.Wait()
	close(stop)
}

func TestRealSleep(t *testing.T) {
	var c Clock = Real{}
	if err := c.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep = %v, want context.Canceled", err)
	}
	tm := c.NewTimer(time.Millisecond)
	<-tm.C()
	ch := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(ch) })
	<-ch
	if Since(c, time.Now().Add(-time.Hour)) < time.Hour {
		t.Error("Since is short")
	}
}
