package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/daemon"
)

// httpOptions configure the monitoring listener: /metrics and the status
// page, read-only, plain HTTP, on loopback unless a token guards it.
type httpOptions struct {
	addr      string
	tokenFile string
}

func (h *httpOptions) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&h.addr, "http", "", "serve /metrics (Prometheus) and a read-only status page on this `address` (HOST:PORT, e.g. 127.0.0.1:9470); a non-loopback host needs --http-token-file")
	fs.StringVar(&h.tokenFile, "http-token-file", "", "`file` holding the token every --http request must present (bearer, or basic-auth password)")
}

// check refuses a listener that would show the store's status to the
// network without a token, and a token file without a listener.
func (h *httpOptions) check() error {
	if h.addr == "" {
		if h.tokenFile != "" {
			return errors.New("--http-token-file only goes with --http")
		}
		return nil
	}
	host, _, err := net.SplitHostPort(h.addr)
	if err != nil {
		return fmt.Errorf("--http %q: %v (want HOST:PORT, e.g. 127.0.0.1:9470)", h.addr, err)
	}
	if !loopback(host) && h.tokenFile == "" {
		return fmt.Errorf("--http %s is not a loopback address: add --http-token-file, or bind 127.0.0.1", h.addr)
	}
	return nil
}

// loopback says whether host names only this machine: localhost or a
// loopback IP. An empty host (all interfaces) is not.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startHTTP serves the monitoring listener in the background; the
// returned function stops it.
func startHTTP(srv *daemon.Server, h httpOptions, log *slog.Logger) (func(context.Context), error) {
	token := ""
	if h.tokenFile != "" {
		var err error
		if token, err = readToken(h.tokenFile); err != nil {
			return nil, fmt.Errorf("--http-token-file: %w", err)
		}
		if token == "" {
			return nil, fmt.Errorf("--http-token-file %s is empty", h.tokenFile)
		}
	}
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		return nil, fmt.Errorf("--http: %w", err)
	}
	srv.StartLagHistory() // the status page's lag chart
	hs := &http.Server{Handler: srv.HTTPHandler(token), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http listener", "err", err)
		}
	}()
	log.Info("serving metrics and the status page", "http", ln.Addr().String(), "token", token != "")
	return func(ctx context.Context) { hs.Shutdown(ctx) }, nil
}
