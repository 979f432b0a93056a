package tokens

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRoundTrip(t *testing.T) {
	tok, id, hash := New()
	gid, secret, err := Parse(tok)
	if err != nil || gid != id {
		t.Fatalf("Parse(%q) = %q, %v; want id %q", tok, gid, err, id)
	}
	if hashSecret(gid, secret) != hash {
		t.Fatal("hash of the parsed secret differs from New's")
	}
	if strings.Contains(hash, secret) {
		t.Fatal("hash contains the secret")
	}
	bad := []string{"", "vmrep_", tok[:len(tok)-1], tok + "0", strings.ToUpper(tok),
		"xmrep" + tok[5:], tok[:len(Prefix)+idLen] + "-" + tok[len(Prefix)+idLen+1:],
		tok[:len(tok)-1] + "g"}
	for _, b := range bad {
		if _, _, err := Parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", b, err)
		}
	}
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var f File
	ok, _, _ := f.Add("acme", ScopeReplicate, "site-a", now, 0)
	exp, _, _ := f.Add("acme", ScopeReplicate, "", now, time.Hour)
	rev, re, _ := f.Add("globex", ScopeAdmin, "", now, 0)
	f.Tokens[f.Find(re.ID)].Revoked = now.Add(time.Minute)
	s := NewSet(&f)
	later := now.Add(2 * time.Hour)
	unknown, _, _ := New()
	id, _, _ := Parse(ok)
	wrong := Prefix + id + "_" + strings.Repeat("0", secretLen)
	cases := []struct {
		tok  string
		at   time.Time
		want error
	}{
		{ok, later, nil},
		{exp, now, nil},
		{exp, later, ErrExpired},
		{rev, now, nil},
		{rev, later, ErrRevoked},
		{unknown, now, ErrUnknown},
		{wrong, now, ErrMismatch},
		{"", now, ErrMalformed},
		{"garbage", now, ErrMalformed},
	}
	for _, c := range cases {
		before := CompareCount()
		e, err := s.Check(c.tok, c.at)
		if !errors.Is(err, c.want) {
			t.Errorf("Check(%.20s…) = %v, want %v", c.tok, err, c.want)
		}
		if c.want == nil && e.ID == "" {
			t.Errorf("Check(%.20s…) accepted without an entry", c.tok)
		}
		// Every path, hit or miss, hashes and compares exactly once.
		if n := CompareCount() - before; n != 1 {
			t.Errorf("Check(%.20s…) made %d hash compares, want 1", c.tok, n)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.json")
	var f File
	tok, e, err := f.Add("acme", ScopeRead, "x", time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	_, secret, _ := Parse(tok)
	if bytes.Contains(b, []byte(secret)) {
		t.Fatal("the store file holds a secret")
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("store mode %v, want 0600", fi.Mode().Perm())
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := NewSet(g).Check(tok, time.Now()); err != nil || got.ID != e.ID {
		t.Fatalf("reloaded store: Check = %v, %v", got, err)
	}
	os.Chmod(path, 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Load of a 0644 store = %v, want a refusal", err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := `{"version":1,"tokens":[{"id":"0123456789abcdef","tenancy":"acme","scope":"read","created":"2026-01-01T00:00:00Z","hash":"` + strings.Repeat("a", 64) + `"}]}`
	if _, err := Decode(strings.NewReader(good)); err != nil {
		t.Fatalf("good store refused: %v", err)
	}
	bad := []string{
		`{"version":2,"tokens":[]}`,
		strings.Replace(good, `"read"`, `"root"`, 1),
		strings.Replace(good, `"acme"`, `"Acme"`, 1),
		strings.Replace(good, `0123456789abcdef`, `0123`, 1),
		strings.Replace(good, `"hash":"a`, `"hash":"A`, 1),
		strings.Replace(good, `"scope"`, `"secret":"x","scope"`, 1),
		strings.Replace(good, `]}`, `,`+good[strings.Index(good, "{\"id"):len(good)-2]+`]}`, 1),
		good + `{}`,
	}
	for _, b := range bad {
		if _, err := Decode(strings.NewReader(b)); err == nil {
			t.Errorf("Decode accepted %s", b)
		}
	}
}
