package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/tokens"
)

// tokenStore is the replication listener's view of a token store file
// (internal/tokens). It rereads the file whenever its inode, size or
// modification time changed since the last request, so a token created,
// rotated or revoked with `vmrep server tokens` (which renames a new file
// over the old) takes effect on the next request, without a restart or a
// signal. A file that cannot be read or decoded refuses every token of the
// store until it is fixed (fail closed) and is logged once per change.
type tokenStore struct {
	path string
	log  *slog.Logger
	mu   struct {
		sync.Mutex
		stamp fileStamp
		set   *tokens.Set
		err   error
	}
}

// fileStamp tells whether a file changed: a rename over it changes the
// inode even when size and mtime match.
type fileStamp struct {
	ino  uint64
	size int64
	mod  time.Time
}

func newTokenStore(path string, log *slog.Logger) (*tokenStore, error) {
	ts := &tokenStore{path: path, log: log}
	if _, err := ts.current(); err != nil {
		return nil, fmt.Errorf("replication listener: %w", err)
	}
	return ts, nil
}

// current returns the store's tokens as the file holds them now.
func (ts *tokenStore) current() (*tokens.Set, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	fi, err := os.Stat(ts.path)
	if err != nil {
		return ts.failLocked(fileStamp{}, fmt.Errorf("token store: %w", err))
	}
	st := fileStamp{size: fi.Size(), mod: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	if ts.mu.set != nil && st == ts.mu.stamp {
		return ts.mu.set, nil
	}
	if ts.mu.err != nil && st == ts.mu.stamp {
		return nil, ts.mu.err
	}
	f, err := tokens.Load(ts.path)
	if err != nil {
		return ts.failLocked(st, err)
	}
	ts.mu.stamp, ts.mu.set, ts.mu.err = st, tokens.NewSet(f), nil
	ts.log.Info("replication token store loaded", "path", ts.path, "tokens", len(f.Tokens))
	return ts.mu.set, nil
}

func (ts *tokenStore) failLocked(st fileStamp, err error) (*tokens.Set, error) {
	if ts.mu.err == nil || st != ts.mu.stamp {
		ts.log.Error("replication token store unusable: refusing its tokens until it is fixed", "path", ts.path, "err", err)
	}
	ts.mu.stamp, ts.mu.set, ts.mu.err = st, nil, err
	return nil, err
}

// noTokens stands in for an absent or unusable store, so a check still
// hashes and compares against its dummy entry.
var noTokens = tokens.NewSet(&tokens.File{})

// unauthorized is the one answer to every refused replication request:
// no token, a malformed, unknown, wrong, expired or revoked one, or one
// whose scope is below the route's. It says nothing about which, nor about
// tenancies or token state; the server's log says which.
var unauthorized = api.Errorf(api.CodeUnauthorized, "missing or wrong bearer token")

// identify finds who the request's bearer token is. It checks the token
// against the legacy --token-file token and against the store on every
// request, whatever the token looks like, and decides only afterwards, so
// that a miss takes the same path as a hit. why is the refusal's reason,
// for the log only.
func (rs *ReplicationServer) identify(r *http.Request) (p principal, why string) {
	h := r.Header.Get("Authorization")
	tok, bearer := strings.CutPrefix(h, "Bearer ")
	tok = strings.TrimSpace(tok)
	legacy := tokenMatches(tok, rs.tokenSum)
	set, serr := noTokens, error(nil)
	if rs.tokens != nil {
		if s, err := rs.tokens.current(); err == nil {
			set = s
		} else {
			serr = err
		}
	}
	e, err := set.Check(tok, rs.s.clock.Now())
	switch {
	case !bearer:
		return principal{}, "no bearer token"
	case rs.hasLegacy && legacy:
		// The single --token-file token reaches the server's own store
		// with every right.
		return principal{Tenancy: DefaultTenancy, Scope: ScopeAdmin}, ""
	case err == nil:
		return principal{Tenancy: e.Tenancy, Scope: ReplScope(e.Scope), TokenID: e.ID}, ""
	case serr != nil && !errors.Is(err, tokens.ErrMalformed):
		return principal{}, "token store unusable: " + serr.Error()
	}
	id, _, _ := tokens.Parse(tok)
	if id != "" {
		return principal{}, err.Error() + " (token " + id + ")"
	}
	return principal{}, err.Error()
}

// refuse answers a request the listener will not serve, and logs why.
func (rs *ReplicationServer) refuse(w http.ResponseWriter, r *http.Request, why string) {
	rs.s.log.Warn("refused replication request: bad or missing bearer token",
		"remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "reason", why)
	w.Header().Set("WWW-Authenticate", `Bearer realm="vmrep-replication"`)
	writeJSON(w, http.StatusUnauthorized, unauthorized)
}

// replRoute is one endpoint of the replication listener and the scope a
// token needs to call it.
type replRoute struct {
	pattern string // "METHOD /path", as http.ServeMux takes it
	scope   ReplScope
	handle  tenantHandler
}

// routeTable lists every endpoint of the replication listener with the
// scope it needs, in one place, so none can be added without one. Asking
// which blobs the server lacks only reads; writing records and blobs needs
// replicate; materialize writes block storage on the server's host and
// needs admin.
func (rs *ReplicationServer) routeTable() []replRoute {
	return []replRoute{
		{"POST " + api.ReplVGsPath, ScopeReplicate, rs.putVG},
		{"POST " + api.ReplMissingPath, ScopeRead, rs.missing},
		{"POST " + api.ReplBlobsPath, ScopeReplicate, rs.blobs},
		{"POST " + api.ReplSnapshotsPath, ScopeReplicate, rs.putSnapshot},
		{"POST " + api.ReplReplicasPath, ScopeAdmin, rs.materialize},
	}
}

// require serves h only to a principal whose scope allows need; any
// other gets the same answer as a bad token.
func (rs *ReplicationServer) require(need ReplScope, h tenantHandler) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t *tenant) error {
		p := principalOf(r)
		if !p.Scope.Allows(need) {
			rs.refuse(w, r, fmt.Sprintf("token %s of tenancy %q has scope %q, the route needs %q", p.TokenID, p.Tenancy, p.Scope, need))
			return nil
		}
		return h(w, r, t)
	}
}
