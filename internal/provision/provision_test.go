package provision

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/tokens"
)

// TestProvisionTwoTenancies: a first provision makes a CA, a server
// certificate the CA verifies for the named address, a token per site
// that the store (hashes only) accepts, files 0600 in 0700 directories; a
// second tenancy into the same directory keeps the CA and the certificate
// and merges the store; provisioning the first again is refused with
// nothing changed.
func TestProvisionTwoTenancies(t *testing.T) {
	out := t.TempDir()
	now := time.Now()
	r1, err := Provision(out, Options{Tenancy: "acme", Sites: []string{"paris", "lyon"}, ServerIPs: []net.IP{net.ParseIP("127.0.0.1")}, ServerNames: []string{"repl.example"}, TTL: 720 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !r1.CACreated || !r1.ServerCertIssued || len(r1.Clients) != 2 {
		t.Fatalf("first provision: %+v", r1)
	}
	caPEM, _ := os.ReadFile(filepath.Join(out, DirCA, FileCACert))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(filepath.Join(out, DirServer, FileServerCert), filepath.Join(out, DirServer, FileServerKey))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	for _, name := range []string{"127.0.0.1", "repl.example"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	store, err := tokens.Load(r1.TokenStore)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(r1.TokenStore)
	for _, c := range r1.Clients {
		b, _ := os.ReadFile(c.TokenFile)
		tok := strings.TrimSpace(string(b))
		e, err := tokens.NewSet(store).Check(tok, now)
		if err != nil || e.Tenancy != "acme" || e.Scope != tokens.ScopeReplicate || e.Label != c.Site {
			t.Errorf("site %s's token: %+v %v", c.Site, e, err)
		}
		if _, err := tokens.NewSet(store).Check(tok, now.Add(721*time.Hour)); !errors.Is(err, tokens.ErrExpired) {
			t.Errorf("site %s's token after its expiry: %v", c.Site, err)
		}
		_, secret, _ := tokens.Parse(tok)
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the server's store holds site %s's secret", c.Site)
		}
	}
	filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		return nil
	})

	r2, err := Provision(out, Options{Tenancy: "globex", Sites: []string{"berlin"}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if r2.CACreated || r2.ServerCertIssued {
		t.Fatalf("second tenancy remade the CA or the certificate: %+v", r2)
	}
	if ca2, _ := os.ReadFile(filepath.Join(out, DirCA, FileCACert)); !bytes.Equal(ca2, caPEM) {
		t.Fatal("second tenancy changed the CA")
	}
	list, err := ListTokens(r2.ServerDir, "", now)
	if err != nil || len(list) != 3 {
		t.Fatalf("merged store: %v %v", list, err)
	}

	before, _ := os.ReadFile(r1.TokenStore)
	if _, err := Provision(out, Options{Tenancy: "acme", Sites: []string{"nice"}, Now: now}); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "already provisioned") {
		t.Fatalf("provisioning acme again: %v", err)
	}
	if after, _ := os.ReadFile(r1.TokenStore); !bytes.Equal(before, after) {
		t.Fatal("a refused provision changed the store")
	}
	if _, err := os.Stat(filepath.Join(out, DirClients, "acme", "nice")); err == nil {
		t.Fatal("a refused provision wrote a site")
	}
}

// TestRotateRevoke: rotate issues a token with the old one's tenancy and
// scope and keeps the old active through the overlap only; revoke is
// immediate; a token of another tenancy is not found by ID under this one.
func TestRotateRevoke(t *testing.T) {
	out := t.TempDir()
	now := time.Now()
	r, err := Provision(out, Options{Tenancy: "acme", Sites: []string{"paris"}, ServerNames: []string{"localhost"}, Scope: tokens.ScopeAdmin, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Provision(out, Options{Tenancy: "globex", Sites: []string{"berlin"}, Now: now}); err != nil {
		t.Fatal(err)
	}
	old := r.Clients[0].TokenID
	nt, err := RotateToken(r.ServerDir, old, "acme", time.Hour, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if nt.Tenancy != "acme" || nt.Scope != tokens.ScopeAdmin || nt.ID == old || nt.State != "active" {
		t.Fatalf("rotated: %+v", nt)
	}
	f, _ := tokens.Load(r.TokenStore)
	set := tokens.NewSet(f)
	oldTok, _ := os.ReadFile(r.Clients[0].TokenFile)
	if _, err := set.Check(strings.TrimSpace(string(oldTok)), now.Add(30*time.Minute)); err != nil {
		t.Errorf("old token within the overlap: %v", err)
	}
	if _, err := set.Check(strings.TrimSpace(string(oldTok)), now.Add(2*time.Hour)); !errors.Is(err, tokens.ErrRevoked) {
		t.Errorf("old token after the overlap: %v", err)
	}
	if _, err := RevokeToken(r.ServerDir, nt.ID, "globex", now); !errors.Is(err, ErrUsage) {
		t.Fatalf("revoking acme's token as globex: %v", err)
	}
	if _, err := RevokeToken(r.ServerDir, nt.ID, "acme", now); err != nil {
		t.Fatal(err)
	}
	f, _ = tokens.Load(r.TokenStore)
	if _, err := tokens.NewSet(f).Check(nt.Token, now.Add(time.Second)); !errors.Is(err, tokens.ErrRevoked) {
		t.Fatalf("revoked token: %v", err)
	}
}
