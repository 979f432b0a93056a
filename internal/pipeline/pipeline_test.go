package pipeline

import (
	"context"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// count emits 0..n-1, stopping at the first failed emit.
func count(n int) Produce[int] {
	return func(ctx context.Context, emit func(int) error) error {
		for i := range n {
			if err := emit(i); err != nil {
				return err
			}
		}
		return nil
	}
}

// jitter sleeps up to max, drawn from a source of the worker's own.
func jitter(rngs []*rand.Rand, w int, max time.Duration) {
	time.Sleep(time.Duration(rngs[w].Int64N(int64(max))))
}

func workerRands(n int) []*rand.Rand {
	rngs := make([]*rand.Rand, n)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(uint64(i), 7))
	}
	return rngs
}

// checkNoLeak fails t when goroutines started during the test are still
// running a while after it.
func checkNoLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Errorf("%d goroutines left running, %d before", n, before)
		}
	})
}

func TestOrderedKeepsOrder(t *testing.T) {
	checkNoLeak(t)
	for _, lim := range []Limits{{1, 1}, {1, 8}, {4, 4}, {8, 3}, {8, 64}} {
		rngs := workerRands(lim.Workers)
		next := 0
		err := Ordered(context.Background(), lim, count(500),
			func(_ context.Context, w, in int, out *int) error {
				jitter(rngs, w, 200*time.Microsecond)
				*out = in * 3
				return nil
			},
			func(_ context.Context, out *int) error {
				if *out != next*3 {
					t.Fatalf("%+v: got result %d, want %d", lim, *out, next*3)
				}
				next++
				return nil
			})
		if err != nil {
			t.Fatalf("%+v: %v", lim, err)
		}
		if next != 500 {
			t.Fatalf("%+v: consumed %d results, want 500", lim, next)
		}
	}
}

// TestOrderedReusesResults checks that work sees the result an earlier item
// left in its slot, so buffers in results can be reused.
func TestOrderedReusesResults(t *testing.T) {
	var allocs atomic.Int64
	err := Ordered(context.Background(), Limits{Workers: 3, InFlight: 4}, count(200),
		func(_ context.Context, _ int, in int, out *[]byte) error {
			if *out == nil {
				allocs.Add(1)
				*out = make([]byte, 0, 16)
			}
			*out = append((*out)[:0], byte(in))
			return nil
		},
		func(_ context.Context, out *[]byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if n := allocs.Load(); n > 4 {
		t.Errorf("%d result buffers made for 4 slots", n)
	}
}

// TestLimits checks that no more than Workers run work at once and no more
// than InFlight items are emitted and not yet consumed.
func TestLimits(t *testing.T) {
	checkNoLeak(t)
	lim := Limits{Workers: 3, InFlight: 5}
	rngs := workerRands(lim.Workers)
	var running, maxRunning, emitted, consumed, maxInFlight atomic.Int64
	produce := func(ctx context.Context, emit func(int) error) error {
		for i := range 300 {
			if err := emit(i); err != nil {
				return err
			}
			if n := emitted.Add(1) - consumed.Load(); n > maxInFlight.Load() {
				maxInFlight.Store(n)
			}
		}
		return nil
	}
	work := func(_ context.Context, w, _ int, _ *struct{}) error {
		n := running.Add(1)
		for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
		}
		jitter(rngs, w, 100*time.Microsecond)
		running.Add(-1)
		return nil
	}
	err := Ordered(context.Background(), lim, produce, work, func(context.Context, *struct{}) error {
		consumed.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := maxRunning.Load(); n > int64(lim.Workers) {
		t.Errorf("%d workers ran at once, limit %d", n, lim.Workers)
	}
	// emitted is counted after emit returns, so it may run one ahead.
	if n := maxInFlight.Load(); n > int64(lim.InFlight)+1 {
		t.Errorf("%d items in flight, limit %d", n, lim.InFlight)
	}

	running.Store(0)
	maxRunning.Store(0)
	err = Unordered(context.Background(), lim, count(300), func(ctx context.Context, w, in int) error {
		return work(ctx, w, in, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := maxRunning.Load(); n > int64(lim.Workers) {
		t.Errorf("unordered: %d workers ran at once, limit %d", n, lim.Workers)
	}
}

var errBoom = errors.New("boom")

// TestFirstErrorStops fails one stage at item 50 of an endless producer
// and checks that the run stops, returns that error and leaves nothing
// running.
func TestFirstErrorStops(t *testing.T) {
	checkNoLeak(t)
	endless := func(ctx context.Context, emit func(int) error) error {
		for i := 0; ; i++ {
			if err := emit(i); err != nil {
				return err
			}
		}
	}
	for _, stage := range []string{"produce", "work", "consume"} {
		t.Run(stage, func(t *testing.T) {
			var worked atomic.Int64
			produce := endless
			if stage == "produce" {
				produce = func(ctx context.Context, emit func(int) error) error {
					for i := range 50 {
						if err := emit(i); err != nil {
							return err
						}
					}
					return errBoom
				}
			}
			err := Ordered(context.Background(), Limits{Workers: 4, InFlight: 8}, produce,
				func(_ context.Context, _ int, in int, out *int) error {
					worked.Add(1)
					if stage == "work" && in == 50 {
						return errBoom
					}
					*out = in
					return nil
				},
				func(_ context.Context, out *int) error {
					if stage == "consume" && *out == 50 {
						return errBoom
					}
					return nil
				})
			if !errors.Is(err, errBoom) {
				t.Fatalf("got %v, want %v", err, errBoom)
			}
			if n := worked.Load(); n > 50+8+4 {
				t.Errorf("%d items worked on after an error at item 50", n)
			}
		})
	}
	t.Run("unordered", func(t *testing.T) {
		err := Unordered(context.Background(), Limits{Workers: 4, InFlight: 8}, endless,
			func(_ context.Context, _ int, in int) error {
				if in == 50 {
					return errBoom
				}
				return nil
			})
		if !errors.Is(err, errBoom) {
			t.Fatalf("got %v, want %v", err, errBoom)
		}
	})
}

// TestCancel cancels a run whose workers block until cancelled, and one
// whose producer blocks, and checks both return ctx's error promptly.
func TestCancel(t *testing.T) {
	checkNoLeak(t)
	blockWork := func(ctx context.Context, _ int, _ int, _ *int) error {
		<-ctx.Done()
		return ctx.Err()
	}
	blockProduce := func(ctx context.Context, emit func(int) error) error {
		if err := emit(1); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	}
	noop := func(context.Context, *int) error { return nil }
	cases := map[string]func(ctx context.Context) error{
		"ordered work": func(ctx context.Context) error {
			return Ordered(ctx, Limits{Workers: 2, InFlight: 4}, count(1000), blockWork, noop)
		},
		"ordered produce": func(ctx context.Context) error {
			return Ordered(ctx, Limits{Workers: 2, InFlight: 4}, blockProduce,
				func(context.Context, int, int, *int) error { return nil }, noop)
		},
		"ordered consume": func(ctx context.Context) error {
			return Ordered(ctx, Limits{Workers: 2, InFlight: 4}, count(1000),
				func(context.Context, int, int, *int) error { return nil },
				func(context.Context, *int) error { <-ctx.Done(); return ctx.Err() })
		},
		"unordered": func(ctx context.Context) error {
			return Unordered(ctx, Limits{Workers: 2, InFlight: 4}, count(1000),
				func(ctx context.Context, w, in int) error { return blockWork(ctx, w, in, nil) })
		},
	}
	for name, run := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- run(ctx) }()
			time.Sleep(20 * time.Millisecond)
			cancel()
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("got %v, want %v", err, context.Canceled)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("run did not return after cancel")
			}
		})
	}
}

func TestUnorderedDoesEveryItem(t *testing.T) {
	checkNoLeak(t)
	var mu sync.Mutex
	seen := make([]bool, 1000)
	rngs := workerRands(5)
	err := Unordered(context.Background(), Limits{Workers: 5, InFlight: 10}, count(len(seen)),
		func(_ context.Context, w, in int) error {
			jitter(rngs, w, 50*time.Microsecond)
			mu.Lock()
			defer mu.Unlock()
			if seen[in] {
				t.Errorf("item %d done twice", in)
			}
			seen[in] = true
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("item %d never done", i)
		}
	}
}

func TestOrderedAllocatesNothingPerItem(t *testing.T) {
	run := func(n int) float64 {
		return testing.AllocsPerRun(5, func() {
			_ = Ordered(context.Background(), Limits{Workers: 2, InFlight: 8}, count(n),
				func(_ context.Context, _ int, in int, out *int) error { *out = in; return nil },
				func(context.Context, *int) error { return nil })
		})
	}
	small, large := run(10), run(10000)
	// Per run allocations only: 1000 times the items, no more allocations.
	if large > small+5 {
		t.Errorf("%v allocations for 10000 items, %v for 10", large, small)
	}
}

// BenchmarkPipeline pushes 64 KiB pieces of a 64 MiB buffer through an
// ordered run whose workers checksum them, beside the same work in an
// unordered run.
func BenchmarkPipeline(b *testing.B) {
	const piece = 64 << 10
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	produce := func(ctx context.Context, emit func([]byte) error) error {
		for off := 0; off < len(data); off += piece {
			if err := emit(data[off : off+piece]); err != nil {
				return err
			}
		}
		return nil
	}
	lim := Limits{Workers: runtime.GOMAXPROCS(0), InFlight: 4 * runtime.GOMAXPROCS(0)}
	b.Run("ordered", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var sum uint32
			err := Ordered(context.Background(), lim, produce,
				func(_ context.Context, _ int, in []byte, out *uint32) error {
					*out = crc32.ChecksumIEEE(in)
					return nil
				},
				func(_ context.Context, out *uint32) error { sum ^= *out; return nil })
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unordered", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var sum atomic.Uint32
			err := Unordered(context.Background(), lim, produce,
				func(_ context.Context, _ int, in []byte) error {
					sum.Add(crc32.ChecksumIEEE(in))
					return nil
				})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
