package cas

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/internal/vfs"
)

// RotateKey re-wraps the data key of the encrypted store in dir (its packs
// and records in be, or in dir when be is nil) from oldKEK to newKEK. No
// data is rewritten: the data key stays, only its wrapping changes, and
// oldKEK no longer opens the store. The store must not be open: RotateKey
// takes its lock. With a backend, the backend's config is written first
// (Open takes the wrapped key from there), then the local copy.
func RotateKey(ctx context.Context, dir string, be Backend, oldKEK, newKEK []byte) error {
	lock, err := lockStore(dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	cfg, err := readConfig(dir)
	if err != nil {
		return err
	}
	if be != nil {
		remote, err := BackendConfig(ctx, be)
		if err != nil {
			return fmt.Errorf("rotate key of store %s: %w", dir, err)
		}
		if !sameStore(cfg, remote) {
			return fmt.Errorf("rotate key of store %s: its config (store %s) differs from the backend's (store %s)", dir, cfg.ID, remote.ID)
		}
		cfg = remote
	}
	if cfg.Encryption == "" {
		return fmt.Errorf("rotate key of store %s: %w", dir, ErrNotEncrypted)
	}
	dk, err := cfg.dataKey(oldKEK)
	if err != nil {
		return fmt.Errorf("rotate key of store %s: old key: %w", dir, err)
	}
	next, err := cfg.withDataKey(newKEK, dk)
	if err != nil {
		return fmt.Errorf("rotate key of store %s: %w", dir, err)
	}
	if be != nil {
		if err := putConfig(ctx, dir, next, be); err != nil {
			return err
		}
	}
	return putConfig(ctx, dir, next, NewLocalBackend(dir))
}

// putConfig replaces the config in be, durably (a temp file put over it).
func putConfig(ctx context.Context, dir string, cfg Config, be Backend) error {
	data, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	f, err := vfs.Default.CreateTemp(filepath.Join(dir, "tmp"), "config-*")
	if err != nil {
		return fmt.Errorf("rotate key of store %s: %w", dir, err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("rotate key of store %s: writing config: %w", dir, err)
	}
	if err := be.Put(ctx, configHandle, f); err != nil {
		return fmt.Errorf("rotate key of store %s: %w", dir, err)
	}
	return nil
}
