package cas

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/internal/durable"
	"github.com/vmrep/vmrep/internal/vfs"
)

// ConfigVersion is the only store config version this code understands.
const ConfigVersion = 1

// Config is the store's config file: written once at Init, read on Open.
type Config struct {
	Version     int                `json:"version"`
	ID          string             `json:"id"`
	Chunker     blob.ChunkerParams `json:"chunker"`
	PackSize    int64              `json:"pack_size"`
	Compression string             `json:"compression"`
	// Encryption is "" for a plain store or EncryptionAES256GCM for one
	// whose packs and records are sealed (see sealed_backend.go); DataKey
	// then holds the store's data key wrapped by its key-encryption key.
	Encryption string `json:"encryption,omitempty"`
	DataKey    string `json:"data_key,omitempty"`
}

// DefaultConfig returns a config with a fresh random store blob.ID and the
// default chunker, pack size and compression.
func DefaultConfig() Config {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("cas: reading random bytes: %v", err)) // crypto/rand never fails on Linux
	}
	return Config{
		Version:     ConfigVersion,
		ID:          hex.EncodeToString(b[:]),
		Chunker:     blob.ChunkerParams{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10},
		PackSize:    64 << 20,
		Compression: "zstd",
	}
}

// minPackSize keeps tests able to use tiny packs while refusing nonsense.
const minPackSize = 4 << 10

// Validate reports the first thing wrong with c.
func (c Config) Validate() error {
	if c.Version != ConfigVersion {
		return fmt.Errorf("unknown version %d (want %d)", c.Version, ConfigVersion)
	}
	if _, err := c.storeID(); err != nil {
		return err
	}
	k := c.Chunker
	if k.Min <= 0 || k.Avg < k.Min || k.Max < k.Avg || k.Max > blob.MaxSize {
		return fmt.Errorf("bad chunker parameters min=%d avg=%d max=%d", k.Min, k.Avg, k.Max)
	}
	if c.PackSize < minPackSize || c.PackSize > 1<<32 {
		return fmt.Errorf("bad pack_size %d", c.PackSize)
	}
	if c.Compression != "zstd" && c.Compression != "s2" && c.Compression != "none" {
		return fmt.Errorf("unknown compression %q", c.Compression)
	}
	return c.validateEncryption()
}

func (c Config) storeID() ([16]byte, error) {
	var id [16]byte
	if len(c.ID) != 32 {
		return id, fmt.Errorf("bad store id %q: want 32 hex digits", c.ID)
	}
	if _, err := hex.Decode(id[:], []byte(c.ID)); err != nil {
		return id, fmt.Errorf("bad store id %q: %v", c.ID, err)
	}
	return id, nil
}

// Init creates the store layout under dir and writes cfg, durably. It fails
// when dir already holds a config.
func Init(ctx context.Context, dir string, cfg Config) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("init store %s: %w", dir, err)
	}
	cfgPath := filepath.Join(dir, "config")
	if _, err := os.Stat(cfgPath); err == nil {
		return fmt.Errorf("init store %s: %s already exists", dir, cfgPath)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("init store %s: %w", dir, err)
	}
	for _, sub := range []string{"", "packs", "records", "records/vgs", "records/snapshots", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return fmt.Errorf("init store %s: %w", dir, err)
		}
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("init store %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(filepath.Join(dir, "tmp"), "config-*")
	if err != nil {
		return fmt.Errorf("init store %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("init store %s: writing config: %w", dir, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("init store %s: syncing config: %w", dir, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("init store %s: %w", dir, err)
	}
	// Link, not rename: a concurrent Init must not overwrite a config.
	if err := os.Link(tmp.Name(), cfgPath); err != nil {
		return fmt.Errorf("init store %s: %w", dir, err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "records"), filepath.Dir(dir)} {
		if err := durable.SyncDir(d); err != nil {
			return fmt.Errorf("init store %s: %w", dir, err)
		}
	}
	return nil
}

// readConfig loads and validates dir/config; errors are one line naming it.
func readConfig(dir string) (Config, error) { return readConfigFS(vfs.Default, dir) }

// readConfigFS is readConfig on fsys.
func readConfigFS(fsys vfs.FS, dir string) (Config, error) {
	path := filepath.Join(dir, "config")
	var cfg Config
	data, err := fsys.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read store config: %w", err)
	}
	if len(data) > 64<<10 {
		return cfg, fmt.Errorf("store config %s: too large (%d bytes)", path, len(data))
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("store config %s: not valid JSON: %v", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("store config %s: %w", path, err)
	}
	return cfg, nil
}
