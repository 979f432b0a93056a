package tokens

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse: Parse never panics, and what it accepts prints back to the
// same string.
func FuzzParse(f *testing.F) {
	tok, _, _ := New()
	for _, s := range []string{tok, "", "vmrep_", "vmrep_0123456789abcdef_", tok + "x"} {
		f.Add(s)
	}
	var fl File
	fl.Add("acme", ScopeRead, "", time.Now(), 0)
	set := NewSet(&fl)
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := Parse(s)
		if err == nil && Prefix+id+"_"+secret != s {
			t.Fatalf("Parse(%q) = %q, %q", s, id, secret)
		}
		if _, err := set.Check(s, time.Now()); err == nil {
			t.Fatalf("Check accepted a fuzzed token %q", s)
		}
	})
}

// FuzzDecode: Decode never panics, and a store it accepts saves and
// decodes again to the same entries.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"version":1,"tokens":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := Decode(bytes.NewReader(b))
		if err != nil {
			return
		}
		path := filepath.Join(t.TempDir(), "tokens.json")
		if err := fl.Save(path); err != nil {
			t.Fatalf("Save of a decoded store: %v", err)
		}
		g, err := Load(path)
		if err != nil {
			t.Fatalf("Load of a saved store: %v", err)
		}
		if len(g.Tokens) != len(fl.Tokens) {
			t.Fatalf("round trip: %d tokens, want %d", len(g.Tokens), len(fl.Tokens))
		}
		NewSet(g).Check("vmrep_0123456789abcdef_"+string(bytes.Repeat([]byte("0"), secretLen)), time.Now())
	})
}
