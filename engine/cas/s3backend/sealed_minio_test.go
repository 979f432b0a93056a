package s3backend_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/cas/castest"
	"github.com/vmrep/vmrep/engine/seal"
)

// TestSealedBackendConformance runs the backend suite on the sealing
// wrapper of a bucket: ranged GETs of sealed objects read as unsealed.
func TestSealedBackendConformance(t *testing.T) {
	srv := startMinIO(t)
	castest.RunBackend(t, func(t *testing.T) cas.Backend {
		cfg := srv
		cfg.Prefix = prefixFor(t)
		be, err := cas.NewSealedBackend(newBackend(t, cfg), seal.NewDataKey())
		if err != nil {
			t.Fatal(err)
		}
		return be
	})
}

// TestEncryptedStoreConformance runs the store suite on encrypted stores
// kept in a bucket, several store directories joining one.
func TestEncryptedStoreConformance(t *testing.T) {
	srv := startMinIO(t)
	kek := seal.NewDataKey()
	castest.RunStore(t, func(t *testing.T) castest.OpenStore {
		cfg := srv
		cfg.Prefix = prefixFor(t)
		scfg := cas.DefaultConfig()
		scfg.PackSize = 1 << 20
		return castest.SharedEncryptedBackend(func(t *testing.T) cas.Backend { return newBackend(t, cfg) }, scfg, kek)
	}, true)
}

// TestEncryptedSharedBucketLocksAndControl checks that an encrypted store
// on a bucket keeps its bucket locks (the sealing wrapper hands out the
// bucket's) and seals its control objects: gc's pending list names blob
// IDs, which must not lie in the bucket in clear.
func TestEncryptedSharedBucketLocksAndControl(t *testing.T) {
	ctx := context.Background()
	srv := startMinIO(t)
	cfg := srv
	cfg.Prefix = prefixFor(t)
	raw := newBackend(t, cfg)
	kek := seal.NewDataKey()
	scfg, err := cas.DefaultConfig().WithEncryption(kek)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := cas.InitBackend(ctx, dir, scfg, raw); err != nil {
		t.Fatal(err)
	}
	st, err := cas.Open(ctx, dir, cas.Options{Backend: newBackend(t, cfg), KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Shared() || st.Locker() == nil {
		t.Fatal("an encrypted store on a bucket lost its bucket locks")
	}
	held, err := st.Locker().TryLock(ctx, cas.LockRequest{Mode: cas.LockExclusive, Why: "test", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(context.Background())
	c := st.Control()
	if c == nil {
		t.Fatal("an encrypted store on a bucket has no control objects")
	}
	marker := []byte("pending-list-names-blob-0123456789abcdef")
	if err := c.WriteControl(ctx, "pending", marker); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadControl(ctx, "pending")
	if err != nil || !bytes.Equal(got, marker) {
		t.Fatalf("control object read back as %q, %v", got, err)
	}
	inBucket, err := raw.(cas.ControlObjects).ReadControl(ctx, "pending")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(inBucket, marker) {
		t.Fatal("the control object lies in the bucket in clear")
	}
	// A flipped bit fails authentication rather than reading wrong.
	inBucket[len(inBucket)-1] ^= 1
	if err := raw.(cas.ControlObjects).WriteControl(ctx, "pending", inBucket); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadControl(ctx, "pending"); !errors.Is(err, seal.ErrAuth) {
		t.Fatalf("a damaged control object read as %v, want an authentication error", err)
	}
}
