package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmrep/vmrep/api"
)

// ReplicationConfig is what the replication listener needs besides the
// Server it writes into.
type ReplicationConfig struct {
	// TLS must carry the server's certificate; there is no plain-text mode.
	TLS *tls.Config
	// Token is the bearer token every request must present.
	Token string
	// ReplicaRoot is the only directory materialize may write under; empty
	// refuses materialize.
	ReplicaRoot string
	// DeviceRoot is the only directory whose entries materialize may
	// write as block devices (on OCI, /dev/oracleoci); empty refuses
	// materialize into devices.
	DeviceRoot string
}

// ReplicationServer serves the replication endpoints, and only them, on a
// TCP listener: another daemon pushes VG records, blobs and snapshot
// records into this daemon's store through it.
type ReplicationServer struct {
	s        *Server
	tokenSum [sha256.Size]byte
	root     string
	devRoot  string
	httpSrv  *http.Server
}

// NewReplicationServer builds the replication listener of s. It refuses a
// configuration without TLS or without a token.
func (s *Server) NewReplicationServer(cfg ReplicationConfig) (*ReplicationServer, error) {
	if cfg.TLS == nil || (len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil) {
		return nil, errors.New("replication listener: TLS with a certificate is required")
	}
	tok := strings.TrimSpace(cfg.Token)
	if len(tok) < 16 {
		return nil, errors.New("replication listener: a bearer token of at least 16 characters is required")
	}
	root := cfg.ReplicaRoot
	if root != "" {
		if err := os.MkdirAll(root, 0o750); err != nil {
			return nil, fmt.Errorf("replication listener: replica root: %w", err)
		}
		real, err := realPath(root)
		if err != nil {
			return nil, fmt.Errorf("replication listener: replica root %s: %w", root, err)
		}
		root = real
	}
	devRoot := cfg.DeviceRoot
	if devRoot != "" {
		if !filepath.IsAbs(devRoot) {
			return nil, fmt.Errorf("replication listener: device root %q is not an absolute path", devRoot)
		}
		devRoot = filepath.Clean(devRoot)
		if fi, err := os.Stat(devRoot); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("replication listener: device root %s is not a directory", devRoot)
		}
		if root == "" {
			return nil, errors.New("replication listener: a device root needs a replica root, which keeps the replicas' state")
		}
	}
	rs := &ReplicationServer{s: s, tokenSum: sha256.Sum256([]byte(tok)), root: root, devRoot: devRoot}
	tc := cfg.TLS.Clone()
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	rs.httpSrv = &http.Server{
		Handler:           rs.authenticate(rs.routes()),
		TLSConfig:         tc,
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return rs, nil
}

func (rs *ReplicationServer) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST "+api.ReplVGsPath, rs.serve(rs.putVG))
	m.HandleFunc("POST "+api.ReplMissingPath, rs.serve(rs.missing))
	m.HandleFunc("POST "+api.ReplBlobsPath, rs.serve(rs.blobs))
	m.HandleFunc("POST "+api.ReplSnapshotsPath, rs.serve(rs.putSnapshot))
	m.HandleFunc("POST "+api.ReplReplicasPath, rs.serve(rs.materialize))
	m.HandleFunc("/", rs.serve(func(w http.ResponseWriter, r *http.Request) error {
		return api.Errorf(api.CodeNotFound, "no such replication endpoint: %s %s", r.Method, r.URL.Path)
	}))
	return m
}

// serve adapts h to net/http, answering its error with rs.fail.
func (rs *ReplicationServer) serve(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			answerError(w, r, err, rs.fail)
		}
	}
}

// tokenMatches says whether got (surrounding space trimmed) is the token
// whose SHA-256 is sum. Digests of equal length are compared in constant
// time, so neither the token's bytes nor its length leak through timing.
func tokenMatches(got string, sum [sha256.Size]byte) bool {
	g := sha256.Sum256([]byte(strings.TrimSpace(got)))
	return subtle.ConstantTimeCompare(g[:], sum[:]) == 1
}

// authenticate lets through requests whose bearer token matches. Digests
// of equal length are compared in constant time, so neither the token's
// bytes nor its length leak through timing.
func (rs *ReplicationServer) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !tokenMatches(tok, rs.tokenSum) {
			rs.s.log.Warn("refused replication request: bad or missing bearer token",
				"remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="vmrep-replication"`)
			writeJSON(w, http.StatusUnauthorized, api.Errorf(api.CodeUnauthorized, "missing or wrong bearer token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Serve answers TLS connections on ln until Shutdown.
func (rs *ReplicationServer) Serve(ln net.Listener) error {
	err := rs.httpSrv.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops the listener and waits for open requests; call it before
// the Server's own Shutdown.
func (rs *ReplicationServer) Shutdown(ctx context.Context) error {
	err := rs.httpSrv.Shutdown(ctx)
	if err != nil {
		rs.httpSrv.Close()
	}
	return err
}

// fail answers a replication request with a typed error, logging what is
// not the sender's fault.
func (rs *ReplicationServer) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	if e.Code == api.CodeInternal {
		rs.s.log.Error("replication request failed", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
	} else {
		rs.s.log.Warn("replication request refused", "remote", r.RemoteAddr, "path", r.URL.Path, "code", e.Code, "err", e.Message)
	}
	writeError(w, e)
}
