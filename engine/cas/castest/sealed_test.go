package castest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/cas/castest"
	"github.com/vmrep/vmrep/engine/seal"
)

// TestSealedBackend runs the backend suite on a sealing wrapper of a local
// directory: names, sizes and ranged reads look as they do unsealed.
func TestSealedBackend(t *testing.T) {
	castest.RunBackend(t, func(t *testing.T) cas.Backend {
		be, err := cas.NewSealedBackend(cas.NewLocalBackend(t.TempDir()), seal.NewDataKey())
		if err != nil {
			t.Fatal(err)
		}
		return be
	})
}

// TestEncryptedLocalStore runs the store suite on encrypted store
// directories.
func TestEncryptedLocalStore(t *testing.T) {
	kek := seal.NewDataKey()
	castest.RunStore(t, func(t *testing.T) castest.OpenStore {
		return func(t *testing.T, dir string) *cas.Store {
			ctx := context.Background()
			if _, err := os.Stat(filepath.Join(dir, "config")); errors.Is(err, os.ErrNotExist) {
				cfg, err := smallPacks().WithEncryption(kek)
				if err != nil {
					t.Fatal(err)
				}
				if err := cas.Init(ctx, dir, cfg); err != nil {
					t.Fatal(err)
				}
			}
			s, err := cas.Open(ctx, dir, cas.Options{KEK: kek})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}, false)
}

// TestEncryptedSharedStore keeps an encrypted store's packs in a backend
// directory that several store directories share, as they share a bucket.
func TestEncryptedSharedStore(t *testing.T) {
	kek := seal.NewDataKey()
	castest.RunStore(t, func(t *testing.T) castest.OpenStore {
		shared := t.TempDir()
		return castest.SharedEncryptedBackend(func(*testing.T) cas.Backend {
			return cas.NewLocalBackend(shared)
		}, smallPacks(), kek)
	}, true)
}
