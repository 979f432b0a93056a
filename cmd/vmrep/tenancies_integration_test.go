package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

// TestServerTenancies: vmrepd --tenancies creates a store per tenancy
// under STORE/tenancies, vmrep server tenancies lists them with their
// quota and usage, and the server's own token still replicates into the
// server's own store, which no tenancy sees.
func TestServerTenancies(t *testing.T) {
	dir := t.TempDir()
	pki := newReplPKI(t, dir)
	file := filepath.Join(dir, "tenancies.json")
	if err := os.WriteFile(file, []byte(`{"tenancies": [{"name": "globex"}, {"name": "acme", "quota_bytes": 1048576}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, addr := newReplServer(t, pki, "--tenancies", file, "--replica-root", filepath.Join(dir, "replicas"))
	for _, name := range []string{"acme", "globex"} {
		if _, err := os.Stat(filepath.Join(srv.store, "tenancies", name, "config")); err != nil {
			t.Errorf("store of tenancy %s: %v", name, err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "replicas", name)); err != nil || !fi.IsDir() {
			t.Errorf("replica root of tenancy %s: %v", name, err)
		}
	}
	src := newDaemon(t)
	src.makeVG("web", 1<<20, 7)
	src.ok("snapshot", "create", "web")
	var r api.ReplicateResult
	src.okJSONResult(&r, "replicate", "web@1", "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile)

	var got api.TenanciesResult
	srv.okJSON(&got, "server", "tenancies", "--json")
	want := []api.Tenancy{{Name: "acme", QuotaBytes: 1 << 20}, {Name: "globex"}}
	if len(got.Tenancies) != 2 {
		t.Fatalf("server tenancies: %+v, want %+v", got, want)
	}
	for i, tn := range got.Tenancies {
		if tn != want[i] {
			t.Errorf("tenancy %d: %+v, want %+v (the server's own replication is in none)", i, tn, want[i])
		}
	}
	out := srv.ok("server", "tenancies")
	if !strings.Contains(out, "acme") || !strings.Contains(out, "1.0 MiB") || !strings.Contains(out, "globex") {
		t.Errorf("server tenancies:\n%s", out)
	}
	if vgs := srv.ok("vg", "list"); !strings.Contains(vgs, "web") {
		t.Errorf("the server's own store lacks web:\n%s", vgs)
	}
	// verify checks each tenancy's store after the server's own.
	if out := srv.ok("verify", "--read-data"); !strings.Contains(out, "tenancy acme: verified 0 snapshots") || !strings.Contains(out, "tenancy globex: verified 0 snapshots") {
		t.Errorf("verify:\n%s", out)
	}
	// gc collects each tenancy's store after the server's own.
	var g api.GCResult
	srv.okJSONResult(&g, "gc")
	if len(g.Tenancies) != 2 || g.Snapshots != 1 || g.Tenancies["acme"].Snapshots != 0 || g.Tenancies["globex"].Snapshots != 0 {
		t.Errorf("gc: %+v; want the server's one snapshot and both tenancies collected", g)
	}
}
