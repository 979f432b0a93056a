package cas

import (
	"context"
	"errors"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

// TestJoinBackend covers how store directories attach to shared storage.
func TestJoinBackend(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string, be Backend) // before Open(dir, be)
		check func(t *testing.T, err error)
	}{
		{"empty backend", func(*testing.T, string, Backend) {}, func(t *testing.T, err error) {
			if !errors.Is(err, blob.ErrNotFound) {
				t.Fatalf("got %v, want blob.ErrNotFound", err)
			}
		}},
		{"empty dir joins", func(t *testing.T, _ string, be Backend) {
			if err := InitBackend(ctx, t.TempDir(), DefaultConfig(), be); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, err error) {
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"dir of another store", func(t *testing.T, dir string, be Backend) {
			if err := InitBackend(ctx, t.TempDir(), DefaultConfig(), be); err != nil {
				t.Fatal(err)
			}
			if err := Init(ctx, dir, DefaultConfig()); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, err error) {
			if err == nil {
				t.Fatal("opened a directory of another store on the backend")
			}
		}},
		{"second init refused", func(t *testing.T, dir string, be Backend) {
			if err := InitBackend(ctx, t.TempDir(), DefaultConfig(), be); err != nil {
				t.Fatal(err)
			}
			if err := InitBackend(ctx, dir, DefaultConfig(), be); err == nil {
				t.Fatal("a second InitBackend on one backend succeeded")
			}
		}, func(t *testing.T, err error) {
			if err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, be := t.TempDir(), NewLocalBackend(t.TempDir())
			tc.setup(t, dir, be)
			s, err := Open(ctx, dir, Options{Backend: be})
			if err == nil {
				defer s.Close()
			}
			tc.check(t, err)
		})
	}
}
