package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/internal/testdisk"
	"github.com/vmrep/vmrep/internal/testpki"
)

// replPKI is a CA and a server certificate for 127.0.0.1, made per test.
type replPKI struct {
	caFile, certFile, keyFile, tokenFile string
	token                                string
	pool                                 *x509.CertPool
}

func newReplPKI(t *testing.T, dir string) replPKI {
	t.Helper()
	k := testpki.New(t)
	p := replPKI{caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "cert.pem"),
		keyFile: filepath.Join(dir, "key.pem"), tokenFile: filepath.Join(dir, "token"),
		token: "tok-" + rand.Text(), pool: k.Pool}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{p.caFile, k.CAPEM},
		{p.certFile, k.CertPEM},
		{p.keyFile, k.KeyPEM},
		{p.tokenFile, []byte(p.token + "\n")},
	} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

var replAddrRE = regexp.MustCompile(`msg="vmrepd replication listening" addr=(\S+)`)

// newReplServer starts a daemon that also serves replication on a random
// local port, and returns it with that address.
func newReplServer(t *testing.T, p replPKI, extra ...string) (*testDaemon, string) {
	t.Helper()
	d := newDaemon(t, append([]string{"--listen", "127.0.0.1:0", "--tls-cert", p.certFile, "--tls-key", p.keyFile,
		"--token-file", p.tokenFile}, extra...)...)
	return d, replAddr(t, d)
}

// replAddr is the address a replication server listens on since it last
// started (a restart picks a new port).
func replAddr(t *testing.T, d *testDaemon) string {
	t.Helper()
	// The log reaches d.log through a pipe, so the line may trail the
	// socket's first answer.
	var m []string
	testdisk.Eventually(t, "the replication address in the server's log", 10*time.Second, func() error {
		if m = replAddrRE.FindStringSubmatch(d.log.String()); m == nil {
			return fmt.Errorf("not yet:\n%s", d.log)
		}
		return nil
	})
	return m[1]
}

// replRaw is a hand-made replication client: it sends what vmrep never
// would, straight to the server's endpoints.
type replRaw struct {
	t      *testing.T
	addr   string
	token  string
	source string // api.ReplSourceHeader; a source of its own unless set
	http   *http.Client
}

func newReplRaw(t *testing.T, p replPKI, addr string) *replRaw {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}}
	t.Cleanup(tr.CloseIdleConnections)
	return &replRaw{t: t, addr: addr, token: p.token, source: "raw-" + strings.ToLower(rand.Text()),
		http: &http.Client{Transport: tr}}
}

// storeID is the ID of d's store, which d presents as its source ID to a
// replication server.
func storeID(t *testing.T, d *testDaemon) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.store, "config"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ ID string }
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.ID == "" {
		t.Fatalf("store config %s: %v", b, err)
	}
	return cfg.ID
}

// post sends body and returns the status and the decoded error, if any.
func (c *replRaw) post(path string, body []byte) (int, api.Error) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "https://"+c.addr+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.source != "" {
		req.Header.Set(api.ReplSourceHeader, c.source)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e api.Error
	if resp.StatusCode >= 300 {
		_ = json.Unmarshal(b, &e)
	}
	return resp.StatusCode, e
}

func (c *replRaw) postJSON(path string, v any) (int, api.Error) {
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.post(path, b)
}

// missing asks which of ids the server lacks.
func (c *replRaw) missing(ids ...blob.ID) []int {
	c.t.Helper()
	var body []byte
	for _, id := range ids {
		body = append(body, id[:]...)
	}
	req, _ := http.NewRequest(http.MethodPost, "https://"+c.addr+api.ReplMissingPath, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var mr api.ReplMissingResult
	if err := json.NewDecoder(resp.Body).Decode(&mr); err != nil || resp.StatusCode != http.StatusOK {
		c.t.Fatalf("missing: %s %v", resp.Status, err)
	}
	return mr.Missing
}
