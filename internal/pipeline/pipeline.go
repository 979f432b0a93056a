package pipeline

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// Limits bound a run.
type Limits struct {
	// Workers is the number of goroutines that run the work function;
	// at least 1.
	Workers int
	// InFlight is the most items emitted and not yet done with (consumed,
	// in Ordered; taken by a worker, in Unordered); at least 1.
	InFlight int
}

func (l Limits) norm() (workers, inflight int) {
	return max(l.Workers, 1), max(l.InFlight, 1)
}

// Produce emits the items of a run in order. It runs on its own goroutine
// and returns when it has emitted every item or when emit fails; emit
// blocks while InFlight items are in flight and fails, with the context's
// error, once the run is stopping.
type Produce[In any] func(ctx context.Context, emit func(In) error) error

// slot carries one item through an ordered run. Slots are reused in turn:
// out keeps what the slot's previous item left there.
type slot[In, Out any] struct {
	in   In
	out  Out
	done chan struct{} // one value once a worker has filled out
}

// Ordered runs produce, hands every item it emits to one of lim.Workers
// goroutines running work, and calls consume with the results, one at a
// time, in the order the items were emitted.
//
// work gets the worker's number (0 to Workers-1, for state kept per worker)
// and writes its result into out, which holds the result of an earlier item
// (or the zero Out): buffers in it may be reused, and whatever work leaves
// there consume sees. consume runs on one goroutine; it MUST NOT keep out,
// or memory out points to, after it returns.
//
// The first error from produce, work or consume stops the run: the context
// the three get is cancelled, and Ordered returns that error once every
// goroutine it started has returned. When ctx is cancelled first, Ordered
// returns ctx's error.
func Ordered[In, Out any](ctx context.Context, lim Limits, produce Produce[In],
	work func(ctx context.Context, worker int, in In, out *Out) error,
	consume func(ctx context.Context, out *Out) error) error {
	workers, inflight := lim.norm()
	g, ctx := errgroup.WithContext(ctx)
	slots := make([]slot[In, Out], inflight)
	for i := range slots {
		slots[i].done = make(chan struct{}, 1)
	}
	// A token in window is an item emitted and not yet consumed. The
	// consumer frees slots in emit order, so holding a token means the
	// next slot in turn is free, and the sends on todo and order below
	// never block.
	window := make(chan struct{}, inflight)
	todo := make(chan *slot[In, Out], inflight)
	order := make(chan *slot[In, Out], inflight)

	g.Go(func() error {
		defer close(order)
		defer close(todo)
		next := 0
		return produce(ctx, func(in In) error {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			s := &slots[next]
			if next++; next == len(slots) {
				next = 0
			}
			s.in = in
			order <- s
			todo <- s
			return nil
		})
	})
	for w := range workers {
		g.Go(func() error {
			for s := range todo {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := work(ctx, w, s.in, &s.out); err != nil {
					return err
				}
				s.done <- struct{}{}
			}
			return nil
		})
	}
	g.Go(func() error {
		var zero In
		for s := range order {
			select {
			case <-s.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			s.in = zero // let the item's memory go while the slot waits
			if err := consume(ctx, &s.out); err != nil {
				return err
			}
			<-window
		}
		return nil
	})
	return g.Wait()
}

// Unordered runs produce and hands every item it emits to one of
// lim.Workers goroutines running work, in no particular order; at most
// lim.InFlight items wait for a worker. work gets the worker's number (0
// to Workers-1, for state kept per worker).
//
// The first error from produce or work stops the run: the context both get
// is cancelled, and Unordered returns that error once every goroutine it
// started has returned. When ctx is cancelled first, Unordered returns
// ctx's error.
func Unordered[In any](ctx context.Context, lim Limits, produce Produce[In],
	work func(ctx context.Context, worker int, in In) error) error {
	workers, inflight := lim.norm()
	g, ctx := errgroup.WithContext(ctx)
	todo := make(chan In, inflight)
	for w := range workers {
		g.Go(func() error {
			for in := range todo {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := work(ctx, w, in); err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(todo)
		return produce(ctx, func(in In) error {
			select {
			case todo <- in:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
	return g.Wait()
}
