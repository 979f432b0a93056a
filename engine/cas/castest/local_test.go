package castest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/cas/castest"
)

func TestLocalBackend(t *testing.T) {
	castest.RunBackend(t, func(t *testing.T) cas.Backend {
		return cas.NewLocalBackend(t.TempDir())
	})
}

// TestLocalStore runs the store suite on plain store directories.
func TestLocalStore(t *testing.T) {
	castest.RunStore(t, func(t *testing.T) castest.OpenStore {
		return func(t *testing.T, dir string) *cas.Store {
			ctx := context.Background()
			if _, err := os.Stat(filepath.Join(dir, "config")); errors.Is(err, os.ErrNotExist) {
				if err := cas.Init(ctx, dir, smallPacks()); err != nil {
					t.Fatal(err)
				}
			}
			s, err := cas.Open(ctx, dir, cas.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}, false)
}

// TestLocalSharedStore keeps packs in a backend directory apart from the
// store directories, which then share it as they would share a bucket.
func TestLocalSharedStore(t *testing.T) {
	castest.RunStore(t, func(t *testing.T) castest.OpenStore {
		shared := t.TempDir()
		return castest.SharedBackend(func(*testing.T) cas.Backend {
			return cas.NewLocalBackend(shared)
		}, smallPacks())
	}, true)
}

// smallPacks makes the suites write several packs with little data.
func smallPacks() cas.Config {
	cfg := cas.DefaultConfig()
	cfg.PackSize = 1 << 20
	return cfg
}
