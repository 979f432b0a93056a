package s3backend

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/internal/testminio"
)

func lockBackend(t *testing.T) *Backend {
	t.Helper()
	srv := testminio.Start(t, "vmrep-locks")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := New(ctx, Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Prefix: "p"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func busy(err error) *cas.LockBusyError {
	var e *cas.LockBusyError
	errors.As(err, &e)
	return e
}

// TestExclusiveLockOneWins starts many exclusive takers at once: the
// conditional create lets exactly one have the lock.
func TestExclusiveLockOneWins(t *testing.T) {
	b := lockBackend(t)
	ctx := context.Background()
	for round := range 5 {
		const n = 8
		var wg sync.WaitGroup
		held := make([]cas.HeldLock, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				held[i], errs[i] = b.TryLock(ctx, cas.LockRequest{Mode: cas.LockExclusive, Why: "gc", Store: "s"})
			})
		}
		close(start)
		wg.Wait()
		var won []cas.HeldLock
		for i, err := range errs {
			switch {
			case err == nil:
				won = append(won, held[i])
			case busy(err) == nil:
				t.Fatalf("round %d: taker %d: %v", round, i, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d of %d exclusive takers won, want exactly 1", round, len(won), n)
		}
		if err := won[0].Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSharedAndExclusiveExclude(t *testing.T) {
	b := lockBackend(t)
	ctx := context.Background()
	s1, err := b.TryLock(ctx, cas.LockRequest{Mode: cas.LockShared, Why: "snapshot", Store: "a"})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := b.TryLock(ctx, cas.LockRequest{Mode: cas.LockShared, Why: "replicate", Store: "b"})
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	_, err = b.TryLock(ctx, cas.LockRequest{Mode: cas.LockExclusive, Why: "gc", Store: "c"})
	if e := busy(err); e == nil || e.Held.Mode != cas.LockShared {
		t.Fatalf("exclusive lock while shared ones are held: %v", err)
	}
	s1.Release(ctx)
	s2.Release(ctx)
	x, err := b.TryLock(ctx, cas.LockRequest{Mode: cas.LockExclusive, Why: "gc", Store: "c"})
	if err != nil {
		t.Fatalf("exclusive lock once the shared ones are gone: %v", err)
	}
	_, err = b.TryLock(ctx, cas.LockRequest{Mode: cas.LockShared, Why: "snapshot", Store: "a"})
	e := busy(err)
	if e == nil || e.Held.Why != "gc" || e.Held.Store != "c" {
		t.Fatalf("shared lock while gc holds the exclusive one: %v", err)
	}
	locks, err := b.Locks(ctx)
	if err != nil || len(locks) != 1 {
		t.Fatalf("locks left after a refused shared lock: %v, %v", locks, err)
	}
	if err := x.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if locks, _ := b.Locks(ctx); len(locks) != 0 {
		t.Fatalf("locks left after release: %v", locks)
	}
}

// TestLockRefreshAndStale: a held lock outlives its lease by refreshing;
// a lock whose holder stopped refreshing goes stale and is taken over.
func TestLockRefreshAndStale(t *testing.T) {
	b := lockBackend(t)
	ctx := context.Background()
	lease := 1500 * time.Millisecond
	s, err := b.TryLock(ctx, cas.LockRequest{Mode: cas.LockShared, Why: "snapshot", Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	first := s.Info().Expires
	time.Sleep(2 * lease)
	if !s.Info().Expires.After(first) {
		t.Fatal("held lock was not refreshed")
	}
	_, err = b.TryLock(ctx, cas.LockRequest{Mode: cas.LockExclusive, Why: "gc"})
	if busy(err) == nil {
		t.Fatalf("exclusive lock over a refreshed shared lock: %v", err)
	}
	// Kill the holder: no more refreshes, the object stays.
	h := s.(*heldLock)
	close(h.stop)
	<-h.done
	x, err := cas.WaitLock(ctx, b, cas.LockRequest{Mode: cas.LockExclusive, Why: "gc", Lease: lease}, nil)
	if err != nil {
		t.Fatalf("exclusive lock after the shared holder died: %v", err)
	}
	if locks, _ := b.Locks(ctx); len(locks) != 1 || locks[0].Mode != cas.LockExclusive {
		t.Fatalf("stale shared lock not removed: %v", locks)
	}
	// The same for a dead gc: its exclusive lock is taken over.
	xh := x.(*heldLock)
	close(xh.stop)
	<-xh.done
	x2, err := cas.WaitLock(ctx, b, cas.LockRequest{Mode: cas.LockExclusive, Why: "gc", Lease: lease}, nil)
	if err != nil {
		t.Fatalf("exclusive lock after the gc holder died: %v", err)
	}
	defer x2.Release(ctx)
	// The dead holder's refresh, were it to wake, fails: it lost the lock.
	if _, err := b.putLock(ctx, xh.key, xh.info, xh.etag); !conflict(err) {
		t.Fatalf("refresh of a taken-over lock: %v, want a failed condition", err)
	}
}

// TestUndecodableLockBlocks: a lock object that does not decode keeps an
// exclusive taker out (it may be a newer vmrep's).
func TestUndecodableLockBlocks(t *testing.T) {
	b := lockBackend(t)
	ctx := context.Background()
	junk := []byte("{not a lock")
	if _, err := b.client.PutObject(ctx, b.bucket, b.sharedKey("0123456789abcdef"), bytes.NewReader(junk), int64(len(junk)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryLock(ctx, cas.LockRequest{Mode: cas.LockExclusive, Why: "gc"}); err == nil {
		t.Fatal("exclusive lock over an undecodable lock object")
	}
}

func TestControlObjects(t *testing.T) {
	b := lockBackend(t)
	ctx := context.Background()
	if _, err := b.ReadControl(ctx, "pending"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("missing control object: %v", err)
	}
	if err := b.WriteControl(ctx, "pending", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if d, err := b.ReadControl(ctx, "pending"); err != nil || string(d) != "x" {
		t.Fatalf("control object read back %q, %v", d, err)
	}
	if err := b.WriteControl(ctx, "../x", nil); err == nil {
		t.Fatal("bad control name accepted")
	}
}

// TestExclusiveWaitsForWriters: a gc that finds writers keeps its lock
// object, so new writers back off, and gets the bucket once the writers
// that came first are done.
func TestExclusiveWaitsForWriters(t *testing.T) {
	b := lockBackend(t)
	ctx := context.Background()
	s1, err := b.TryLock(ctx, cas.LockRequest{Mode: cas.LockShared, Why: "snapshot", Store: "a"})
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan *cas.LockBusyError, 100)
	got := make(chan error, 1)
	go func() {
		x, err := b.TryLock(ctx, cas.LockRequest{Mode: cas.LockExclusive, Why: "gc", Store: "c",
			Waiting: func(e *cas.LockBusyError) {
				select {
				case waited <- e:
				default:
				}
			}})
		if err == nil {
			err = x.Release(ctx)
		}
		got <- err
	}()
	if e := <-waited; e.Held.Store != "a" {
		t.Fatalf("gc waits for %v, want the writer of store a", e)
	}
	if _, err := b.TryLock(ctx, cas.LockRequest{Mode: cas.LockShared, Why: "snapshot", Store: "b"}); busy(err) == nil {
		t.Fatalf("a new writer while gc waits for the bucket: %v, want refused", err)
	}
	if err := s1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("gc once the writer is done: %v", err)
	}
}
