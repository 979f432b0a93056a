package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/internal/testpki"
	"github.com/vmrep/vmrep/internal/tokens"
)

// logText reads a syncBuffer (schedule_rpo_test.go) while the
// listener's goroutines may still write it.
func logText(s *syncBuffer) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tokenListener is a daemon with its replication listener on a real TLS
// socket, authenticating against a token store file.
type tokenListener struct {
	t      *testing.T
	s      *Server
	rs     *ReplicationServer
	url    string
	hc     *http.Client
	store  string
	log    *syncBuffer
	tokens map[string]string // name → token string
}

func newTokenListener(t *testing.T) *tokenListener {
	t.Helper()
	dir := t.TempDir()
	if err := cas.Init(context.Background(), filepath.Join(dir, "store"), cas.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	st, err := cas.Open(context.Background(), filepath.Join(dir, "store"), cas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logBuf := &syncBuffer{}
	s, err := New(Config{Store: st, Logger: slog.New(slog.NewTextHandler(logBuf, nil))})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	stopped[s] = new(sync.Once)
	t.Cleanup(func() { stopTestServer(s) })
	// The tokens' tenancies are hosted, each in a store of its own.
	for _, name := range []string{"acme", "globex"} {
		d := filepath.Join(dir, "store", "tenancies", name)
		if err := cas.Init(context.Background(), d, cas.DefaultConfig()); err != nil {
			t.Fatal(err)
		}
		tst, err := cas.Open(context.Background(), d, cas.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddTenancy(Tenancy{Name: name, Store: tst}); err != nil {
			tst.Close()
			t.Fatal(err)
		}
	}

	now := time.Now()
	var f tokens.File
	tl := &tokenListener{t: t, s: s, store: filepath.Join(dir, "tokens.json"), log: logBuf, tokens: map[string]string{}}
	add := func(name, tenancy, scope string, edit func(*tokens.Entry)) {
		tok, e, err := f.Add(tenancy, scope, name, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(&f.Tokens[f.Find(e.ID)])
		}
		tl.tokens[name] = tok
	}
	add("acme-admin", "acme", tokens.ScopeAdmin, nil)
	add("acme-replicate", "acme", tokens.ScopeReplicate, nil)
	add("acme-read", "acme", tokens.ScopeRead, nil)
	add("acme-expired", "acme", tokens.ScopeAdmin, func(e *tokens.Entry) { e.Expires = now.Add(-time.Hour) })
	add("acme-revoked", "acme", tokens.ScopeAdmin, func(e *tokens.Entry) { e.Revoked = now.Add(-time.Minute) })
	add("globex-admin", "globex", tokens.ScopeAdmin, nil)
	if err := f.Save(tl.store); err != nil {
		t.Fatal(err)
	}

	pki := testpki.New(t)
	rs, err := s.NewReplicationServer(ReplicationConfig{
		TLS:        &tls.Config{Certificates: []tls.Certificate{pki.Cert}},
		TokenStore: tl.store, ReplicaRoot: filepath.Join(dir, "replicas"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); rs.Serve(ln) }()
	t.Cleanup(func() { rs.Shutdown(context.Background()); <-done })
	tl.rs, tl.url = rs, "https://"+ln.Addr().String()
	tl.hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.Pool}}}
	return tl
}

// do posts body to the route pattern ("POST /path") with the
// Authorization header auth (none when empty) and the source header src.
func (tl *tokenListener) do(pattern, auth, src string, body []byte) (int, []byte) {
	tl.t.Helper()
	method, path, _ := strings.Cut(pattern, " ")
	req, err := http.NewRequest(method, tl.url+path, bytes.NewReader(body))
	if err != nil {
		tl.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set(api.ReplSourceHeader, src)
	resp, err := tl.hc.Do(req)
	if err != nil {
		tl.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// routeBody is a plausible body for each route, naming acme's VG, so a
// refusal is not a mere parse error.
func routeBody(t *testing.T, pattern string, vg api.ReplVG) []byte {
	var v any
	switch {
	case strings.HasSuffix(pattern, api.ReplVGsPath):
		v = vg
	case strings.HasSuffix(pattern, api.ReplMissingPath):
		return make([]byte, 32)
	case strings.HasSuffix(pattern, api.ReplBlobsPath):
		return nil
	case strings.HasSuffix(pattern, api.ReplSnapshotsPath):
		v = api.Snapshot{ID: "snap-0000000000000001", VGName: vg.Name, VGID: vg.ID, Seq: 1}
	case strings.HasSuffix(pattern, api.ReplReplicasPath):
		v = api.ReplReplicaRequest{VGID: vg.ID, Seq: 1, Dir: "r1"}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// smaller is the scope just below need, or "" when there is none.
func smaller(need ReplScope) string {
	switch need {
	case ScopeAdmin:
		return "acme-replicate"
	case ScopeReplicate:
		return "acme-read"
	}
	return ""
}

// TestReplicationRefusesEveryBadToken is the must-show of issue 19's
// control plane: every route of the replication listener (from its route
// table), over real TLS, refuses no token, a malformed, unknown, wrong,
// expired or revoked token and a token of too small a scope with the same
// status and the same bytes, naming no tenancy and no VG; every refusal
// and every acceptance goes through exactly one hash-and-compare of the
// token store (no early return on a miss); the server's log says the real
// reason. A token of the right scope is not refused, so the test can fail.
func TestReplicationRefusesEveryBadToken(t *testing.T) {
	tl := newTokenListener(t)
	const src = "site-acme-1"
	vg := api.ReplVG{ID: "vg-00000000000000a1", Name: "acme-web-secret", NextSeq: 1,
		Volumes: []api.Volume{{ID: "vol-00000000000000a1", Name: "boot", Role: "boot", Size: 4096, Format: "raw"}}}
	vgBody, _ := json.Marshal(vg)
	if code, b := tl.do("POST "+api.ReplVGsPath, "Bearer "+tl.tokens["acme-replicate"], src, vgBody); code != http.StatusOK {
		t.Fatalf("acme's own VG record: %d %s", code, b)
	}

	unknown, _, _ := tokens.New()
	acmeID, _, _ := tokens.Parse(tl.tokens["acme-admin"])
	wrongSecret := tokens.Prefix + acmeID + "_" + strings.Repeat("0", 64)
	type attempt struct{ name, auth, reason string }
	base := []attempt{
		{"no token", "", "no bearer token"},
		{"not bearer", "Basic " + tl.tokens["acme-admin"], "no bearer token"},
		{"empty bearer", "Bearer ", "no bearer token"},
		{"blank bearer", "Bearer  x ", "malformed token"},
		{"malformed", "Bearer vmrep_nothex_x", "malformed token"},
		{"truncated", "Bearer " + tl.tokens["acme-admin"][:40], "malformed token"},
		{"unknown id", "Bearer " + unknown, "unknown token id"},
		{"wrong secret", "Bearer " + wrongSecret, "wrong secret"},
		{"expired", "Bearer " + tl.tokens["acme-expired"], "token expired"},
		{"revoked", "Bearer " + tl.tokens["acme-revoked"], "token revoked"},
	}
	var first []byte
	for _, rt := range tl.rs.routeTable() {
		body := routeBody(t, rt.pattern, vg)
		tries := base
		if low := smaller(rt.scope); low != "" {
			tries = append(tries, attempt{"scope " + strings.TrimPrefix(low, "acme-"), "Bearer " + tl.tokens[low], "the route needs"})
		}
		for _, a := range tries {
			before := tokens.CompareCount()
			code, b := tl.do(rt.pattern, a.auth, src, body)
			if n := tokens.CompareCount() - before; n != 1 {
				t.Errorf("%s, %s: %d hash compares, want exactly 1", rt.pattern, a.name, n)
			}
			if first == nil {
				first = b
			}
			if code != http.StatusUnauthorized || !bytes.Equal(b, first) {
				t.Errorf("%s, %s: %d %s; want 401 %s", rt.pattern, a.name, code, b, first)
			}
			for _, leak := range []string{"acme", "globex", vg.Name, vg.ID, "expired", "revoked", "scope"} {
				if bytes.Contains(b, []byte(leak)) {
					t.Errorf("%s, %s: the answer names %q: %s", rt.pattern, a.name, leak, b)
				}
			}
			if !strings.Contains(logText(tl.log), a.reason) {
				t.Errorf("%s, %s: the server's log does not say %q", rt.pattern, a.name, a.reason)
			}
		}
		// The scope the route needs gets past authentication (its body may
		// still be refused by the handler, with its own error).
		exact := map[ReplScope]string{ScopeRead: "acme-read", ScopeReplicate: "acme-replicate", ScopeAdmin: "acme-admin"}[rt.scope]
		if code, b := tl.do(rt.pattern, "Bearer "+tl.tokens[exact], src, body); code == http.StatusUnauthorized {
			t.Errorf("%s with a %s token: refused: %s", rt.pattern, rt.scope, b)
		}
	}

	// A token of another tenancy, admin scope, aimed at acme's VG (its ID,
	// renamed) from its own source. It is a good token, so what it gets
	// is its own tenancy's answer (a refusal here, where the tenancies
	// share a store and the VG's origin is acme's source; a VG of its own
	// once each tenancy has its store); either way no answer names acme or
	// acme's VG, and acme's VG is as it was: acme's own record, posted
	// again, is accepted (a renamed VG, or one taken over by another
	// source, would be refused).
	for _, rt := range tl.rs.routeTable() {
		renamed := vg
		renamed.Name = "hijacked"
		code, b := tl.do(rt.pattern, "Bearer "+tl.tokens["globex-admin"], "site-globex-1", routeBody(t, rt.pattern, renamed))
		for _, leak := range []string{"acme", vg.Name} {
			if bytes.Contains(b, []byte(leak)) {
				t.Errorf("%s with globex's token: the answer names %q: %d %s", rt.pattern, leak, code, b)
			}
		}
	}
	if code, b := tl.do("POST "+api.ReplVGsPath, "Bearer "+tl.tokens["acme-replicate"], src, vgBody); code != http.StatusOK {
		t.Fatalf("acme's VG record after globex's attempts: %d %s", code, b)
	}
}

// TestReplicationRevokeTakesEffectAtOnce: revoking a token in the store
// file (as `vmrep server tokens revoke` does: a new file renamed over)
// refuses it on the running listener's next request, with no restart; a
// store file made unreadable refuses every store token (fail closed).
func TestReplicationRevokeTakesEffectAtOnce(t *testing.T) {
	tl := newTokenListener(t)
	pattern := "POST " + api.ReplMissingPath
	tok := "Bearer " + tl.tokens["acme-read"]
	if code, b := tl.do(pattern, tok, "s1", make([]byte, 32)); code != http.StatusOK {
		t.Fatalf("before revoking: %d %s", code, b)
	}
	f, err := tokens.Load(tl.store)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := tokens.Parse(tl.tokens["acme-read"])
	f.Tokens[f.Find(id)].Revoked = time.Now().Add(-time.Second)
	if err := f.Save(tl.store); err != nil {
		t.Fatal(err)
	}
	if code, b := tl.do(pattern, tok, "s1", make([]byte, 32)); code != http.StatusUnauthorized {
		t.Fatalf("after revoking: %d %s", code, b)
	}
	if !strings.Contains(logText(tl.log), "token revoked (token "+id+")") {
		t.Errorf("the log does not name the revoked token:\n%s", logText(tl.log))
	}
	other := "Bearer " + tl.tokens["acme-admin"]
	if code, b := tl.do(pattern, other, "s1", make([]byte, 32)); code != http.StatusOK {
		t.Fatalf("another token after the revocation: %d %s", code, b)
	}
	if err := writeFileAtomic(tl.store, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if code, _ := tl.do(pattern, other, "s1", make([]byte, 32)); code != http.StatusUnauthorized {
		t.Fatalf("with a broken store file: %d, want 401", code)
	}
	if !strings.Contains(logText(tl.log), "token store unusable") {
		t.Errorf("the log does not say the store is unusable")
	}
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := writeFile0600(tmp, b); err != nil {
		return err
	}
	return renameFile(tmp, path)
}

// TestReplRouteTableScopes: every route of the replication listener has a
// scope, and routes() serves exactly the table's routes.
func TestReplRouteTableScopes(t *testing.T) {
	rs := &ReplicationServer{}
	mux := rs.routes()
	seen := map[string]bool{}
	for _, rt := range rs.routeTable() {
		if rt.scope.rank() == 0 {
			t.Errorf("%s has no scope", rt.pattern)
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		req, _ := http.NewRequest(method, path, nil)
		if _, pat := mux.Handler(req); pat != rt.pattern {
			t.Errorf("%s is served by %q", rt.pattern, pat)
		}
		seen[path] = true
	}
	for _, p := range []string{api.ReplVGsPath, api.ReplMissingPath, api.ReplBlobsPath, api.ReplSnapshotsPath, api.ReplReplicasPath} {
		if !seen[p] {
			t.Errorf("%s has no entry in the route table", p)
		}
	}
}

func writeFile0600(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }

func renameFile(from, to string) error { return os.Rename(from, to) }
