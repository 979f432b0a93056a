package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/daemon"
)

// tcpOptions configure the replication listener: TCP, always under TLS and
// a bearer token, serving only the replication endpoints.
type tcpOptions struct {
	listen      string
	tlsCert     string
	tlsKey      string
	tokenFile   string
	tokens      string
	replicaRoot string
	deviceRoot  string
	tenancies   string // file of the tenancies hosted besides the default one
}

func (t *tcpOptions) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&t.listen, "listen", "", "also serve replication on this TCP `address` (HOST:PORT; needs --tls-cert, --tls-key, and --tokens or --token-file)")
	fs.StringVar(&t.tlsCert, "tls-cert", "", "PEM certificate `file` of the replication listener")
	fs.StringVar(&t.tlsKey, "tls-key", "", "PEM private key `file` of the replication listener")
	fs.StringVar(&t.tokenFile, "token-file", "", "`file` holding the bearer token replication clients must present")
	fs.StringVar(&t.tokens, "tokens", "", "token store `file` (written by vmrep server provision / server tokens): tokens with a tenancy, scope and expiry, stored hashed; reread when it changes, so a revocation takes effect at once")
	fs.StringVar(&t.replicaRoot, "replica-root", "", "`directory` under which replication clients may materialize replicas")
	fs.StringVar(&t.tenancies, "tenancies", "", "JSON `file` of the tenancies this replication server hosts besides its own store, each in a store of its own with a quota: {\"tenancies\": [{\"name\": \"acme\", \"quota_bytes\": 107374182400}]}")
	fs.StringVar(&t.deviceRoot, "device-root", "", "`directory` whose entries (links to block devices, e.g. /dev/oracleoci) replication clients may have materialize write; nothing else is written as a device")
}

// check refuses a TCP listener that would be anything less than TLS with
// a token, and TLS or token flags that would be silently ignored.
func (t *tcpOptions) check() error {
	if t.listen == "" {
		if t.tlsCert != "" || t.tlsKey != "" || t.tokenFile != "" || t.tokens != "" || t.replicaRoot != "" || t.deviceRoot != "" || t.tenancies != "" {
			return errors.New("--tls-cert, --tls-key, --token-file, --tokens, --replica-root, --device-root and --tenancies only go with --listen")
		}
		return nil
	}
	if t.tlsCert == "" || t.tlsKey == "" || (t.tokenFile == "" && t.tokens == "") {
		return errors.New("--listen needs --tls-cert, --tls-key, and --tokens or --token-file: replication is never served without TLS and a token")
	}
	return nil
}

// readToken reads the token file, refusing one that others may read.
func readToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("--token-file %s: mode %v lets others read it; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// startReplication opens the TCP listener and serves replication on it in
// the background; the returned function stops it.
func startReplication(srv *daemon.Server, t tcpOptions, log *slog.Logger) (func(context.Context), error) {
	cert, err := tls.LoadX509KeyPair(t.tlsCert, t.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	var token string
	if t.tokenFile != "" {
		if token, err = readToken(t.tokenFile); err != nil {
			return nil, err
		}
	}
	rs, err := srv.NewReplicationServer(daemon.ReplicationConfig{
		TLS:   &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Token: token, TokenStore: t.tokens, ReplicaRoot: t.replicaRoot, DeviceRoot: t.deviceRoot,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", t.listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", t.listen, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := rs.Serve(ln); err != nil {
			log.Error("replication listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	// Tests listen on port 0 and read the address from this line.
	log.Info("vmrepd replication listening", "addr", ln.Addr().String(), "tls", true)
	return func(ctx context.Context) {
		if err := rs.Shutdown(ctx); err != nil {
			log.Warn("replication listener shutdown", "err", err)
		}
		<-done
	}, nil
}
