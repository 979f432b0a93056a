package cas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/engine/blob"
)

// configHandle names the copy of the store config kept in a backend.
var configHandle = Handle{Kind: FileConfig, Name: "config"}

// maxConfigSize bounds a config read from a backend before allocating.
const maxConfigSize = 64 << 10

// BackendConfig returns the store config kept in be; the error matches
// blob.ErrNotFound when be holds none.
func BackendConfig(ctx context.Context, be Backend) (Config, error) {
	var cfg Config
	size := int64(-1)
	err := be.List(ctx, FileConfig, func(name string, n int64) error {
		if name == configHandle.Name {
			size = n
		}
		return nil
	})
	if err != nil {
		return cfg, fmt.Errorf("read backend store config: %w", err)
	}
	if size < 0 {
		return cfg, fmt.Errorf("read backend store config: %w", blob.ErrNotFound)
	}
	if size > maxConfigSize {
		return cfg, fmt.Errorf("backend store config: too large (%d bytes)", size)
	}
	data := make([]byte, size)
	if err := be.ReadAt(ctx, configHandle, data, 0); err != nil {
		return cfg, fmt.Errorf("read backend store config: %w", err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("backend store config: not valid JSON: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("backend store config: %w", err)
	}
	return cfg, nil
}

// InitBackend creates a store whose packs and records live in be, with
// dir as its local part (config copy, lock, index, tmp). It fails when be
// already holds a store: open that one instead. The config goes to be
// first, so a crash before the local Init leaves a backend that Open can
// still join.
func InitBackend(ctx context.Context, dir string, cfg Config, be Backend) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("init store %s: %w", dir, err)
	}
	if have, err := BackendConfig(ctx, be); err == nil {
		return fmt.Errorf("init store %s: backend already holds store %s", dir, have.ID)
	} else if !errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("init store %s: %w", dir, err)
	}
	if err := putBackendConfig(ctx, dir, cfg, be); err != nil {
		return err
	}
	if err := Init(ctx, dir, cfg); err != nil {
		// A local backend on dir itself has just written dir/config.
		if local, rerr := readConfig(dir); rerr != nil || !sameStore(local, cfg) {
			return err
		}
	}
	return nil
}

func putBackendConfig(ctx context.Context, dir string, cfg Config, be Backend) error {
	data, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("init store %s: %w", dir, err)
	}
	tmpDir := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o750); err != nil {
		return fmt.Errorf("init store %s: %w", dir, err)
	}
	f, err := os.CreateTemp(tmpDir, "config-*")
	if err != nil {
		return fmt.Errorf("init store %s: %w", dir, err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("init store %s: writing config: %w", dir, err)
	}
	if err := be.Put(ctx, configHandle, f); err != nil {
		return fmt.Errorf("init store %s: storing config in backend: %w", dir, err)
	}
	return nil
}

// joinBackend makes dir a local part of the store kept in be: an empty dir
// takes the backend's config; a dir with a config must name the same store,
// so that an index is never mixed with packs of another store.
func joinBackend(ctx context.Context, dir string, be Backend) (Config, error) {
	remote, err := BackendConfig(ctx, be)
	if err != nil {
		return remote, fmt.Errorf("open store %s: %w", dir, err)
	}
	local, err := readConfig(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := Init(ctx, dir, remote); err != nil {
			// Lost a race with another Open of dir: compare below.
			if local, rerr := readConfig(dir); rerr != nil || !sameStore(local, remote) {
				return remote, err
			}
		}
		return remote, nil
	}
	if err != nil {
		return remote, err
	}
	if !sameStore(local, remote) {
		return remote, fmt.Errorf("open store %s: its config (store %s) differs from the backend's (store %s)",
			dir, local.ID, remote.ID)
	}
	return remote, nil
}
