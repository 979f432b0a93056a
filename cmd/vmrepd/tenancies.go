package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/daemon"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/internal/tokens"
)

// maxTenanciesFile bounds the --tenancies file read.
const maxTenanciesFile = 1 << 20

// tenancyConfig is one entry of the --tenancies file.
type tenancyConfig struct {
	Name        string `json:"name"`
	QuotaBytes  int64  `json:"quota_bytes,omitempty"`  // 0: no quota
	ReplicaRoot string `json:"replica_root,omitempty"` // "": --replica-root/NAME
}

// tenanciesFile is the --tenancies file:
//
//	{"tenancies": [{"name": "acme", "quota_bytes": 107374182400, "replica_root": "/srv/acme"}]}
type tenanciesFile struct {
	Tenancies []tenancyConfig `json:"tenancies"`
}

// parseTenancies reads and checks a --tenancies file: known fields only,
// valid distinct names, quotas not negative, replica roots absolute.
func parseTenancies(data []byte) ([]tenancyConfig, error) {
	if len(data) > maxTenanciesFile {
		return nil, fmt.Errorf("over %d bytes", maxTenanciesFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f tenanciesFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a tenancies file: %v", err)
	}
	if dec.More() {
		return nil, errors.New("not a tenancies file: text after the JSON object")
	}
	seen := make(map[string]bool, len(f.Tenancies))
	for _, t := range f.Tenancies {
		if err := daemon.CheckTenancyName(t.Name); err != nil {
			return nil, err
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("tenancy %s is listed twice", t.Name)
		}
		seen[t.Name] = true
		if t.QuotaBytes < 0 {
			return nil, fmt.Errorf("tenancy %s: quota_bytes %d is negative", t.Name, t.QuotaBytes)
		}
		if t.ReplicaRoot != "" && !filepath.IsAbs(t.ReplicaRoot) {
			return nil, fmt.Errorf("tenancy %s: replica_root %q is not an absolute path", t.Name, t.ReplicaRoot)
		}
	}
	return f.Tenancies, nil
}

// readTenancies reads the --tenancies file.
func readTenancies(file string) ([]tenancyConfig, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--tenancies: %w", err)
	}
	ts, err := parseTenancies(b)
	if err != nil {
		return nil, fmt.Errorf("--tenancies %s: %w", file, err)
	}
	return ts, nil
}

// tenancyStores opens the store of every tenancy, creating it on first
// use, and adds the tenancies to srv. The returned function closes them;
// call it after srv's Shutdown. kek, when not nil, is the server's
// key-encryption key: every tenancy's store is then encrypted under a data
// key of its own, which kek wraps.
func tenancyStores(ctx context.Context, srv *daemon.Server, o options, ts []tenancyConfig, kek []byte, log *slog.Logger) (func(), error) {
	var open []*cas.Store
	closeAll := func() {
		for _, st := range open {
			if err := st.Close(); err != nil {
				log.Error("closing a tenancy's store", "store", st.Dir(), "err", err)
			}
		}
	}
	for _, t := range ts {
		st, err := openTenancyStore(ctx, o, t.Name, kek, log)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("tenancy %s: %w", t.Name, err)
		}
		open = append(open, st)
		if err := srv.AddTenancy(daemon.Tenancy{Name: t.Name, Store: st, QuotaBytes: t.QuotaBytes, ReplicaRoot: t.ReplicaRoot}); err != nil {
			closeAll()
			return nil, err
		}
		log.Info("hosting tenancy", "tenancy", t.Name, "store", st.Dir(), "quota_bytes", t.QuotaBytes)
	}
	return closeAll, nil
}

// openTenancyStore opens the store of tenancy name: a full store of its
// own in STORE/tenancies/NAME and, with --backend, under the prefix
// PREFIX/tenancies/NAME of the same bucket. Nothing is shared with the
// server's store or another tenancy's, so no chunk is deduplicated
// across them. On an encrypted server (kek not nil) a tenancy's store is
// created encrypted with a data key of its own (doc/design.md, "Encryption
// at rest"), so no two tenancies share a key.
func openTenancyStore(ctx context.Context, o options, name string, kek []byte, log *slog.Logger) (*cas.Store, error) {
	dir := filepath.Join(o.store, "tenancies", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	be, err := openBackendUnder(ctx, o.backend, "tenancies", name)
	if err != nil {
		return nil, err
	}
	cfg := cas.DefaultConfig()
	cfg.Compression = o.compress
	if kek != nil {
		var err error
		if cfg, err = cfg.WithEncryption(kek); err != nil {
			return nil, err
		}
	}
	return openStore(ctx, dir, be, cfg, kek, log)
}

// tokenTenancies adds to ts, without a quota, every tenancy the token
// store at file names that ts lacks: a provisioned tenancy is hosted
// without a --tenancies entry (which is only needed for a quota or a
// replica root). Tenancies are opened at start, so one first named by a
// token created later is hosted from the next start.
func tokenTenancies(file string, ts []tenancyConfig) ([]tenancyConfig, error) {
	f, err := tokens.Load(file)
	if err != nil {
		return nil, fmt.Errorf("--tokens: %w", err)
	}
	have := make(map[string]bool, len(ts))
	for _, t := range ts {
		have[t.Name] = true
	}
	for _, e := range f.Tokens {
		if have[e.Tenancy] {
			continue
		}
		if err := daemon.CheckTenancyName(e.Tenancy); err != nil {
			return nil, fmt.Errorf("--tokens %s: %w", file, err)
		}
		have[e.Tenancy] = true
		ts = append(ts, tenancyConfig{Name: e.Tenancy})
	}
	return ts, nil
}
