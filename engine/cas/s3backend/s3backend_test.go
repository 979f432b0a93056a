package s3backend_test

import (
	"context"
	"errors"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/cas/castest"
	"github.com/vmrep/vmrep/engine/cas/s3backend"
)

func newBackend(t testing.TB, cfg s3backend.Config) cas.Backend {
	t.Helper()
	be, err := s3backend.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

func TestBackendConformance(t *testing.T) {
	srv := startMinIO(t)
	castest.RunBackend(t, func(t *testing.T) cas.Backend {
		cfg := srv
		cfg.Prefix = prefixFor(t)
		return newBackend(t, cfg)
	})
}

func TestStoreConformance(t *testing.T) {
	srv := startMinIO(t)
	castest.RunStore(t, func(t *testing.T) castest.OpenStore {
		cfg := srv
		cfg.Prefix = prefixFor(t)
		scfg := cas.DefaultConfig()
		scfg.PackSize = 1 << 20
		return castest.SharedBackend(func(t *testing.T) cas.Backend { return newBackend(t, cfg) }, scfg)
	}, true)
}

func TestMissingBucket(t *testing.T) {
	cfg := startMinIO(t)
	cfg.Bucket = "no-such-bucket"
	if _, err := s3backend.New(context.Background(), cfg); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("new backend on a missing bucket: got %v, want blob.ErrNotFound", err)
	}
}

func TestWrongCredentials(t *testing.T) {
	cfg := startMinIO(t)
	cfg.SecretKey = "not-the-secret"
	if _, err := s3backend.New(context.Background(), cfg); err == nil {
		t.Fatal("new backend with a wrong secret key: no error")
	}
}

// TestPrefixesAreApart checks that two prefixes of one bucket are two
// stores: neither lists nor reads the other's files.
func TestPrefixesAreApart(t *testing.T) {
	srv := startMinIO(t)
	a, b := srv, srv
	a.Prefix, b.Prefix = "one", "one-more/"
	ba, bb := newBackend(t, a), newBackend(t, b)
	h := cas.Handle{Kind: cas.FilePack, Name: castest.RandomPackName(t)}
	castest.PutBytes(t, ba, h, []byte("pack"))
	n := 0
	if err := bb.List(context.Background(), cas.FilePack, func(string, int64) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("prefix %q lists %d packs of prefix %q", b.Prefix, n, a.Prefix)
	}
	if err := bb.ReadAt(context.Background(), h, make([]byte, 4), 0); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("read another prefix's pack: got %v, want blob.ErrNotFound", err)
	}
}
