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
	// Token is the legacy single bearer token (--token-file): the
	// default tenancy with admin scope. Empty when only TokenStore is used.
	Token string
	// TokenStore is the path of a token store file (internal/tokens):
	// tokens with a tenancy, a scope and an expiry, stored hashed, reread
	// when the file changes.
	TokenStore string
	// ReplicaRoot is the only directory materialize may write under; empty
	// refuses materialize.
	ReplicaRoot string
	// DeviceRoot is the only directory whose entries materialize may
	// write as block devices (on OCI, /dev/oracleoci); empty refuses
	// materialize into devices.
	DeviceRoot string
	// Authenticate, when set, replaces the bearer token check: tests use
	// it to give requests principals of several tenancies.
	Authenticate func(*http.Request) (principal, bool)
}

// ReplicationServer serves the replication endpoints, and only them, on a
// TCP listener: another daemon pushes VG records, blobs and snapshot
// records into this daemon's store through it.
type ReplicationServer struct {
	s         *Server
	tokenSum  [sha256.Size]byte
	hasLegacy bool
	tokens    *tokenStore // nil without TokenStore
	root      string
	devRoot   string
	tenants   map[string]*tenant // by name, DefaultTenancy included
	httpSrv   *http.Server
}

// NewReplicationServer builds the replication listener of s. It refuses a
// configuration without TLS or without a token (a legacy token or a
// token store).
func (s *Server) NewReplicationServer(cfg ReplicationConfig) (*ReplicationServer, error) {
	if cfg.TLS == nil || (len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil) {
		return nil, errors.New("replication listener: TLS with a certificate is required")
	}
	tok := strings.TrimSpace(cfg.Token)
	if (tok != "" || cfg.TokenStore == "") && len(tok) < 16 {
		return nil, errors.New("replication listener: a bearer token of at least 16 characters is required")
	}
	var ts *tokenStore
	if cfg.TokenStore != "" {
		var err error
		if ts, err = newTokenStore(cfg.TokenStore, s.log); err != nil {
			return nil, err
		}
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
	rs := &ReplicationServer{s: s, tokenSum: sha256.Sum256([]byte(tok)), hasLegacy: tok != "", tokens: ts, root: root, devRoot: devRoot}
	tenants, err := rs.tenantRoots()
	if err != nil {
		return nil, err
	}
	rs.tenants = tenants
	handler := rs.authenticate(rs.routes())
	if cfg.Authenticate != nil {
		handler = rs.authenticateWith(cfg.Authenticate, rs.routes())
	}
	tc := cfg.TLS.Clone()
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	rs.httpSrv = &http.Server{
		Handler:           handler,
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
	for _, rt := range rs.routeTable() {
		m.HandleFunc(rt.pattern, rs.serveTenant(rs.require(rt.scope, rt.handle)))
	}
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

// authenticate lets through requests whose bearer token is the legacy
// token or an active token of the store, with its principal in the
// context; routes() then checks the principal's scope.
func (rs *ReplicationServer) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, why := rs.identify(r)
		if why != "" {
			rs.refuse(w, r, why)
			return
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
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
