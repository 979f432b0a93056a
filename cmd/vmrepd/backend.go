package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/cas/s3backend"
)

// parseBackendURL reads --backend s3://bucket/prefix?endpoint=host:port
// [&secure=false][&region=R][&ca=PEMFILE]. Credentials never go in the URL
// (it shows up in process lists and logs): they come from the environment.
func parseBackendURL(raw string, getenv func(string) string) (s3backend.Config, error) {
	var cfg s3backend.Config
	u, err := url.Parse(raw)
	if err != nil {
		return cfg, fmt.Errorf("--backend %q: %w", raw, err)
	}
	if u.Scheme != "s3" || u.Host == "" {
		return cfg, fmt.Errorf("--backend %q: want s3://bucket[/prefix]?endpoint=host:port", raw)
	}
	if u.User != nil {
		return cfg, fmt.Errorf("--backend %q: put credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, not the URL", u.Redacted())
	}
	q := u.Query()
	cfg = s3backend.Config{
		Bucket:   u.Host,
		Prefix:   strings.Trim(u.Path, "/"),
		Endpoint: q.Get("endpoint"),
		Region:   q.Get("region"),
		CACert:   q.Get("ca"),
		Secure:   true,
	}
	if cfg.Endpoint == "" {
		return cfg, fmt.Errorf("--backend %q: endpoint=host:port is required", raw)
	}
	if s := q.Get("secure"); s != "" {
		if cfg.Secure, err = strconv.ParseBool(s); err != nil {
			return cfg, fmt.Errorf("--backend %q: secure=%q: want true or false", raw, s)
		}
	}
	for k := range q {
		switch k {
		case "endpoint", "region", "ca", "secure":
		default:
			return cfg, fmt.Errorf("--backend %q: unknown parameter %q", raw, k)
		}
	}
	cfg.AccessKey, cfg.SecretKey = getenv("VMREP_S3_ACCESS_KEY"), getenv("VMREP_S3_SECRET_KEY")
	if cfg.AccessKey == "" && cfg.SecretKey == "" {
		cfg.AccessKey, cfg.SecretKey = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return cfg, errors.New("--backend: set VMREP_S3_ACCESS_KEY and VMREP_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	}
	return cfg, nil
}

// openBackend connects to the bucket --backend names; nil for "".
func openBackend(ctx context.Context, raw string) (cas.Backend, error) {
	return openBackendUnder(ctx, raw)
}

// openBackendUnder opens the backend raw names, under the further prefix
// elems (a tenancy's "tenancies", NAME); nil when raw is empty.
func openBackendUnder(ctx context.Context, raw string, elems ...string) (cas.Backend, error) {
	if raw == "" {
		return nil, nil
	}
	cfg, err := parseBackendURL(raw, os.Getenv)
	if err != nil {
		return nil, err
	}
	cfg.Prefix = path.Join(append([]string{cfg.Prefix}, elems...)...)
	return s3backend.New(ctx, cfg)
}

// prepareBackendStore makes dir the local part of the store in be: a bucket
// without a store gets a new one; otherwise Open joins the bucket's store.
func prepareBackendStore(ctx context.Context, dir string, be cas.Backend, cfg cas.Config, log *slog.Logger) error {
	_, err := cas.BackendConfig(ctx, be)
	if err == nil {
		return nil
	}
	if !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	if err := cas.InitBackend(ctx, dir, cfg, be); err != nil {
		return err
	}
	log.Info("created store in the backend", "store", dir)
	return nil
}
