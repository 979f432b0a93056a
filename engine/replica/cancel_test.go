package replica

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

// cancelAfter is a context whose Err says Canceled from its n-th call on,
// so a test can cancel in the middle of a long pass.
type cancelAfter struct {
	context.Context
	n, calls int
}

func (c *cancelAfter) Err() error {
	c.calls++
	if c.calls >= c.n {
		return context.Canceled
	}
	return nil
}

// TestVerifyReplicaCancel: a context cancelled while a replica verify
// hashes stops it before it has read every volume, with context.Canceled.
func TestVerifyReplicaCancel(t *testing.T) {
	ctx := context.Background()
	e, snaps, _, _ := chain(t)
	rep := filepath.Join(e.dir, "at3")
	if _, err := CreateReplica(ctx, e.store, snaps[2], rep, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	var done, total int64
	opts := VerifyReplicaOptions{Blobs: e.store,
		Snapshot: func(_ string, v VolumeState) (blob.ID, bool) {
			vs, ok := snaps[2].Volume(v.ID)
			return vs.Manifest, ok
		},
		Progress: func(d, t int64) { done, total = d, t }}
	if _, _, err := VerifyReplica(ctx, rep, opts); err != nil || done != total {
		t.Fatalf("verify: %v, %d of %d bytes", err, done, total)
	}
	done, total = 0, 0
	for _, n := range []int{1, 3, 6} {
		c := &cancelAfter{Context: ctx, n: n}
		_, _, err := VerifyReplica(c, rep, opts)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("verify cancelled at check %d: %v, want context.Canceled", n, err)
		}
		if total > 0 && done >= total {
			t.Fatalf("verify cancelled at check %d read all %d bytes", n, total)
		}
	}
}
