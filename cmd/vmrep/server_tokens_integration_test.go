package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
)

// TestServerProvisionTokens runs the control plane as a user does: provision
// two tenancies into one directory, start vmrepd on the provisioned
// certificate and token store, replicate with a site's token and the
// provisioned CA, then revoke that token with `vmrep server tokens` while
// the server runs: the next replication is refused with no restart. A
// token made with `tokens create` works at once; a replicate-scope token
// cannot materialize; rotate with no overlap refuses the old token at once.
func TestServerProvisionTokens(t *testing.T) {
	src := newDaemon(t)
	prov := filepath.Join(t.TempDir(), "prov")
	var pr struct {
		ServerDir string `json:"server_dir"`
		Clients   []struct {
			Site      string `json:"site"`
			TokenID   string `json:"token_id"`
			TokenFile string `json:"token_file"`
			CAFile    string `json:"ca_file"`
		} `json:"clients"`
	}
	out := src.ok("server", "provision", "--tenancy", "acme", "--site", "paris", "--server-ip", "127.0.0.1", "--expires", "30d", "--out", prov, "--json")
	if err := json.Unmarshal([]byte(out), &pr); err != nil || len(pr.Clients) != 1 {
		t.Fatalf("provision --json: %v\n%s", err, out)
	}
	src.ok("server", "provision", "--tenancy", "globex", "--sites", "1", "--out", prov)
	if r := src.vmrep("server", "provision", "--tenancy", "acme", "--out", prov); r.code != 2 || !strings.Contains(r.stderr, "already provisioned") {
		t.Fatalf("provisioning acme again: exit %d %s", r.code, r.stderr)
	}
	// A third tenancy with the OCI server stack: the stack takes the token
	// store, and its tfvars (0600) carry the merged store of all three.
	src.ok("server", "provision", "--tenancy", "initech", "--sites", "1", "--target", "oci", "--out", prov)
	ci, err := os.ReadFile(filepath.Join(prov, "stack", "cloud-init.tftpl"))
	if err != nil || !strings.Contains(string(ci), "--tokens /etc/vmrep/tokens.json") {
		t.Fatalf("server stack's cloud-init: %v\n%s", err, ci)
	}
	tfv := filepath.Join(prov, "stack", "provisioned.auto.tfvars.json")
	var vars map[string]string
	b, err := os.ReadFile(tfv)
	if err != nil || json.Unmarshal(b, &vars) != nil {
		t.Fatalf("provisioned tfvars: %v", err)
	}
	store, _ := os.ReadFile(filepath.Join(prov, "server", "tokens.json"))
	if vars["tokens_json"] != string(store) || !strings.Contains(vars["tokens_json"], "initech") || !strings.Contains(vars["tokens_json"], "acme") || vars["tls_key_pem"] == "" {
		t.Fatalf("provisioned tfvars do not carry the merged store and the key: %v", vars)
	}
	if fi, _ := os.Stat(tfv); fi.Mode().Perm() != 0o600 {
		t.Fatalf("provisioned tfvars mode %v", fi.Mode().Perm())
	}
	if r := src.vmrep("server", "provision", "--tenancy", "hooli", "--target", "gcp", "--out", prov); r.code != 2 {
		t.Fatalf("--target gcp: exit %d %s", r.code, r.stderr)
	}

	if r := src.vmrep("server", "tokens", "list"); r.code != 2 {
		t.Fatalf("tokens list without --server-dir: exit %d", r.code)
	}
	srvDir := filepath.Join(prov, "server")
	list := src.ok("server", "tokens", "list", "--server-dir", srvDir)
	if !strings.Contains(list, pr.Clients[0].TokenID) || !strings.Contains(list, "globex") {
		t.Fatalf("tokens list:\n%s", list)
	}
	paris := pr.Clients[0]
	tokBytes, _ := os.ReadFile(paris.TokenFile)
	if strings.Contains(list, strings.TrimSpace(string(tokBytes))[23:]) {
		t.Fatal("tokens list shows a secret")
	}

	root := filepath.Join(t.TempDir(), "replicas")
	srv := newDaemon(t, "--listen", "127.0.0.1:0", "--tls-cert", filepath.Join(srvDir, "server.pem"),
		"--tls-key", filepath.Join(srvDir, "server-key.pem"), "--tokens", filepath.Join(srvDir, "tokens.json"), "--replica-root", root)
	addr := replAddr(t, srv)

	img := filepath.Join(src.dir, "boot.img")
	writeImage(t, img, 1<<20, 3)
	src.ok("vg", "create", "web", "--boot", img)
	src.ok("snapshot", "create", "web")
	replicate := func(ref, tokenFile string, extra ...string) result {
		return src.vmrep(append([]string{"replicate", ref, "--to", addr, "--token-file", tokenFile, "--ca", paris.CAFile, "--json"}, extra...)...)
	}
	if r := replicate("web@1", paris.TokenFile); r.code != 0 {
		t.Fatalf("replicate with paris's token: exit %d %s\n%s", r.code, r.stderr, srv.log)
	}
	if r := replicate("web@1", paris.TokenFile, "--materialize", "web"); r.code != 1 || !strings.Contains(r.stderr, "refused the bearer token") {
		t.Fatalf("materialize with a replicate-scope token: exit %d %s", r.code, r.stderr)
	}
	if !strings.Contains(srv.log.String(), `has scope \"replicate\", the route needs \"admin\"`) {
		t.Errorf("the server's log does not say why materialize was refused:\n%s", srv.log)
	}

	src.ok("server", "tokens", "revoke", "--id", paris.TokenID, "--tenancy", "acme", "--server-dir", srvDir)
	src.ok("snapshot", "create", "web")
	if r := replicate("web@2", paris.TokenFile); r.code != 1 || !strings.Contains(r.stderr, "refused the bearer token") {
		t.Fatalf("replicate with a revoked token: exit %d %s", r.code, r.stderr)
	}
	if !strings.Contains(srv.log.String(), "token revoked (token "+paris.TokenID+")") {
		t.Errorf("the server's log does not name the revoked token:\n%s", srv.log)
	}

	nice := filepath.Join(t.TempDir(), "nice.token")
	var nt struct {
		ID      string `json:"id"`
		Tenancy string `json:"tenancy"`
		Token   string `json:"token"`
	}
	src.okJSON(&nt, "server", "tokens", "create", "--tenancy", "acme", "--label", "nice", "--expires", "1h", "--token-out", nice, "--server-dir", srvDir)
	if nt.Tenancy != "acme" || nt.ID == "" {
		t.Fatalf("tokens create: %+v", nt)
	}
	if r := src.vmrep("server", "tokens", "create", "--tenancy", "globex", "--server-dir", srvDir); r.code != 0 || strings.Contains(r.stderr, "restart") {
		t.Fatalf("a token of a hosted tenancy: exit %d %s", r.code, r.stderr)
	}
	if r := src.vmrep("server", "tokens", "create", "--tenancy", "umbrella", "--server-dir", srvDir); r.code != 0 || !strings.Contains(r.stderr, "restart it to serve umbrella") {
		t.Fatalf("a token of a tenancy new to the store does not say the server needs a restart: exit %d %s", r.code, r.stderr)
	}
	var rr api.ReplicateResult
	r := replicate("web@2", nice)
	if r.code != 0 || jobResult(r.stdout, &rr) != nil || !rr.Committed {
		t.Fatalf("replicate with a new token: exit %d %s %+v", r.code, r.stderr, rr)
	}

	rotated := filepath.Join(t.TempDir(), "rotated.token")
	src.ok("server", "tokens", "rotate", "--id", nt.ID, "--token-out", rotated, "--server-dir", srvDir)
	src.ok("snapshot", "create", "web")
	if r := replicate("web@3", nice); r.code != 1 {
		t.Fatalf("replicate with the rotated-out token: exit %d %s", r.code, r.stderr)
	}
	if r := replicate("web@3", rotated); r.code != 0 {
		t.Fatalf("replicate with the rotated-in token: exit %d %s", r.code, r.stderr)
	}
	var infos []struct {
		ID, State string
		Expires   *time.Time
	}
	src.okJSON(&infos, "server", "tokens", "list", "--tenancy", "acme", "--server-dir", srvDir)
	states := map[string]string{}
	for _, i := range infos {
		states[i.ID] = i.State
	}
	if states[paris.TokenID] != "revoked" || states[nt.ID] != "revoked" || len(infos) != 3 {
		t.Fatalf("acme's tokens after revoke and rotate: %+v", infos)
	}
}
