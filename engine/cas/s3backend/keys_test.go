package s3backend

import (
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
)

func TestKeys(t *testing.T) {
	pack := strings.Repeat("ab", 32)
	tests := []struct {
		prefix string
		h      cas.Handle
		key    string
	}{
		{"", cas.Handle{Kind: cas.FilePack, Name: pack}, "packs/ab/" + pack + ".pack"},
		{"site/a/", cas.Handle{Kind: cas.FilePack, Name: pack}, "site/a/packs/ab/" + pack + ".pack"},
		{"p/", cas.Handle{Kind: cas.FileRecord, Name: "vgs/vg-1"}, "p/records/vgs/vg-1"},
		{"p/", cas.Handle{Kind: cas.FileRecord, Name: "snapshots/vg-1.2"}, "p/records/snapshots/vg-1.2"},
		{"p/", cas.Handle{Kind: cas.FileConfig, Name: "config"}, "p/config"},
	}
	for _, tc := range tests {
		key, err := keyOf(tc.prefix, tc.h)
		if err != nil || key != tc.key {
			t.Errorf("keyOf(%q, %v) = %q, %v; want %q", tc.prefix, tc.h, key, err, tc.key)
			continue
		}
		name, ok := nameOf(tc.prefix, tc.h.Kind, key)
		if !ok || name != tc.h.Name {
			t.Errorf("nameOf(%q) = %q, %v; want %q", key, name, ok, tc.h.Name)
		}
	}
	strays := []struct {
		kind cas.FileKind
		key  string
	}{
		{cas.FilePack, "packs/cd/" + pack + ".pack"}, // wrong fan-out directory
		{cas.FilePack, "packs/ab/" + pack},
		{cas.FilePack, "packs/ab/" + pack + ".pack.tmp"},
		{cas.FileRecord, "records/other/x"},
		{cas.FileRecord, "records/vgs/a/b"},
		{cas.FileConfig, "config.old"},
	}
	for _, tc := range strays {
		if name, ok := nameOf("", tc.kind, tc.key); ok {
			t.Errorf("nameOf(%q) = %q: a stray key taken as ours", tc.key, name)
		}
	}
}

func TestNormPrefix(t *testing.T) {
	for in, want := range map[string]string{"": "", "/": "", "a": "a/", "/a/b/": "a/b/"} {
		if got := normPrefix(in); got != want {
			t.Errorf("normPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
