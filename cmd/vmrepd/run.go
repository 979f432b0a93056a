package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/vmrep/vmrep/daemon"
	"github.com/vmrep/vmrep/engine/cas"
)

func run(o options, logOut io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))
	gid, err := parseGroup(o.allowGroup)
	if err != nil {
		return err
	}
	mode, err := strconv.ParseUint(o.socketMode, 8, 32)
	if err != nil || mode > 0o777 {
		return fmt.Errorf("--socket-mode %q: want an octal mode", o.socketMode)
	}
	// Refuse a socket path before creating a store or anything else.
	if err := daemon.CheckSocketPath(o.socket); err != nil {
		return err
	}
	var tenancies []tenancyConfig
	if o.tcp.tenancies != "" {
		if tenancies, err = readTenancies(o.tcp.tenancies); err != nil {
			return err
		}
	}
	if o.tcp.tokens != "" {
		if tenancies, err = tokenTenancies(o.tcp.tokens, tenancies); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	kek, err := o.key.load(ctx, "", kekEnv, os.Getenv)
	if err != nil {
		return err
	}
	if o.encrypt && kek == nil {
		return usageError{fmt.Errorf("--encrypt needs the key-encryption key: --key-file, --key-command or %s", kekEnv)}
	}
	be, err := openBackend(ctx, o.backend)
	if err != nil {
		return err
	}
	cfg := cas.DefaultConfig()
	cfg.Compression = o.compress
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("--compression: %w", err)
	}
	if o.encrypt {
		if cfg, err = cfg.WithEncryption(kek); err != nil {
			return err
		}
	}
	store, err := openStore(ctx, o.store, be, cfg, kek, log)
	if err != nil {
		return explainKeyError(o.store, err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing store", "err", err)
		}
	}()
	// The store lock is held: a socket file left here is a dead daemon's.
	ln, err := daemon.Listen(o.socket, daemon.ListenConfig{Mode: os.FileMode(mode), Group: gid})
	if err != nil {
		return err
	}
	if gid >= 0 {
		warnUnreachable(filepath.Dir(o.socket), gid, log)
	}
	srv, err := daemon.New(daemon.Config{Store: store, Logger: log, AllowGroup: gid, Bucket: o.bucket})
	if err != nil {
		ln.Close()
		return err
	}
	closeTenancies, err := tenancyStores(ctx, srv, o, tenancies, kek, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeTenancies() // after srv.Shutdown, before the store's Close
	stopRepl := func(context.Context) {}
	if o.tcp.listen != "" {
		if stopRepl, err = startReplication(srv, o.tcp, log); err != nil {
			ln.Close()
			return err
		}
	}
	stopHTTP := func(context.Context) {}
	if o.http.addr != "" {
		if stopHTTP, err = startHTTP(srv, o.http, log); err != nil {
			stopRepl(context.Background())
			ln.Close()
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("vmrepd listening", "socket", o.socket, "store", o.store, "pid", os.Getpid())
	select {
	case <-ctx.Done():
		log.Info("shutting down: canceling running jobs")
	case err := <-errc:
		return fmt.Errorf("serving %s: %w", o.socket, err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stopRepl(sctx)
	stopHTTP(sctx)
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	<-errc
	log.Info("vmrepd stopped")
	return nil
}

// openStore opens the store, creating it first when dir holds none.
func openStore(ctx context.Context, dir string, be cas.Backend, cfg cas.Config, kek []byte, log *slog.Logger) (*cas.Store, error) {
	if be != nil {
		if err := prepareBackendStore(ctx, dir, be, cfg, log); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(filepath.Join(dir, "config")); errors.Is(err, os.ErrNotExist) {
		if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
			return nil, fmt.Errorf("store %s: directory is not empty and holds no store config", dir)
		}
		if err := cas.Init(ctx, dir, cfg); err != nil {
			return nil, err
		}
		log.Info("created store", "store", dir)
	}
	store, err := cas.Open(ctx, dir, cas.Options{Logger: log, Backend: be, KEK: kek})
	var le *cas.LockedError
	if errors.As(err, &le) {
		return nil, fmt.Errorf("store %s is already served by another vmrepd (pid %d); stop it first", dir, le.PID)
	}
	return store, err
}

// parseGroup reads --allow-group as a gid or a group name; -1 when unset.
func parseGroup(s string) (int, error) {
	if s == "" {
		return -1, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return -1, fmt.Errorf("--allow-group %q: %w", s, err)
	}
	return strconv.Atoi(g.Gid)
}

// warnUnreachable warns when the socket's directory, which vmrepd leaves as
// it found it, does not let the allowed group through: members would be
// refused by the file system before the daemon sees them.
func warnUnreachable(dir string, gid int, log *slog.Logger) {
	fi, err := os.Stat(dir)
	if err != nil {
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	m := fi.Mode().Perm()
	if m&0o001 != 0 || (ok && int(st.Gid) == gid && m&0o010 != 0) {
		return
	}
	log.Warn("members of --allow-group cannot reach the socket: its directory does not let the group through; vmrepd changes no directory it did not create, so chgrp and chmod g+x it, or remove it and let vmrepd create it",
		"dir", dir, "mode", m.String(), "group", gid)
}
