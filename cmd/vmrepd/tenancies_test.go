package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTenancies(t *testing.T) {
	good := `{"tenancies": [{"name": "acme", "quota_bytes": 1048576, "replica_root": "/srv/acme"}, {"name": "globex"}]}`
	ts, err := parseTenancies([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0] != (tenancyConfig{Name: "acme", QuotaBytes: 1 << 20, ReplicaRoot: "/srv/acme"}) || ts[1] != (tenancyConfig{Name: "globex"}) {
		t.Fatalf("parsed %+v", ts)
	}
	for _, c := range []struct{ in, want string }{
		{`{"tenancies": [{"name": ""}]}`, "tenancy name"},
		{`{"tenancies": [{"name": "Acme"}]}`, "tenancy name"},
		{`{"tenancies": [{"name": "../x"}]}`, "tenancy name"},
		{`{"tenancies": [{"name": "-a"}]}`, "tenancy name"},
		{`{"tenancies": [{"name": "a"}, {"name": "a"}]}`, "listed twice"},
		{`{"tenancies": [{"name": "a", "quota_bytes": -1}]}`, "negative"},
		{`{"tenancies": [{"name": "a", "replica_root": "rel"}]}`, "absolute"},
		{`{"tenancies": [{"name": "a", "quota": 5}]}`, "unknown field"},
		{`{"tenancies": []} {}`, "after the JSON"},
		{`[`, "not a tenancies file"},
	} {
		if _, err := parseTenancies([]byte(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.in, err, c.want)
		}
	}
}

// A bad --tenancies file stops vmrepd with one line before it creates a
// store.
func TestBadTenanciesFileChangesNothing(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tenancies.json")
	if err := os.WriteFile(f, []byte(`{"tenancies": [{"name": "a/b"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	var out strings.Builder
	code := execute([]string{"--store", store, "--socket", filepath.Join(dir, "s.sock"), "--listen", "127.0.0.1:0",
		"--tls-cert", "c", "--tls-key", "k", "--token-file", "t", "--tenancies", f}, &out, &out)
	if code != 1 || strings.Count(out.String(), "\n") != 1 || !strings.Contains(out.String(), "tenancy name") {
		t.Fatalf("exit %d, output %q; want 1 and one line about the name", code, out.String())
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Fatalf("store directory created: %v", err)
	}
}

func FuzzParseTenancies(f *testing.F) {
	f.Add([]byte(`{"tenancies": [{"name": "acme", "quota_bytes": 1048576, "replica_root": "/srv/acme"}]}`))
	f.Add([]byte(`{"tenancies": []}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := parseTenancies(data)
		if err != nil {
			return
		}
		for _, c := range ts {
			if c.Name == "" || strings.ContainsAny(c.Name, "/.") || c.QuotaBytes < 0 {
				t.Fatalf("accepted %+v", c)
			}
		}
	})
}
