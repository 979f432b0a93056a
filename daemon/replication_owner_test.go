package daemon

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/volume"
)

func TestCheckOrigin(t *testing.T) {
	replicated := volume.VG{ID: "vg-0000000000000001", Volumes: []volume.Volume{{ID: "vol-0000000000000001"}}}
	local := replicated
	local.Volumes = []volume.Volume{{ID: "vol-0000000000000001", Source: "/dev/vg0/web"}}
	owned := replicated
	owned.Origin = "aaaa"
	for _, tc := range []struct {
		name  string
		vg    volume.VG
		src   string
		adopt bool
		want  string // "" when allowed
	}{
		{"its creator", owned, "aaaa", false, ""},
		{"another source", owned, "bbbb", true, "created by another source"},
		{"a local VG", local, "aaaa", true, "local volume group"},
		{"an older replicated VG, its record", replicated, "aaaa", true, ""},
		{"an older replicated VG, a snapshot", replicated, "aaaa", false, "no recorded source"},
	} {
		e := checkOrigin(tc.vg, tc.src, tc.adopt)
		switch {
		case tc.want == "" && e != nil:
			t.Errorf("%s: refused: %v", tc.name, e)
		case tc.want != "" && (e == nil || e.Code != api.CodeConflict || !strings.Contains(e.Message, tc.want)):
			t.Errorf("%s: got %v, want a conflict saying %q", tc.name, e, tc.want)
		case e != nil && strings.Contains(e.Message, "aaaa") && tc.src != "aaaa":
			t.Errorf("%s: the answer names the owner: %v", tc.name, e)
		}
	}
}

func TestReplSource(t *testing.T) {
	for _, tc := range []struct {
		header string
		ok     bool
	}{
		{"0123456789abcdef0123456789abcdef", true},
		{"raw-abc", true},
		{"", false},
		{"ABC", false},
		{"a b", false},
		{strings.Repeat("a", 65), false},
	} {
		r := httptest.NewRequest("POST", api.ReplVGsPath, nil)
		if tc.header != "" {
			r.Header.Set(api.ReplSourceHeader, tc.header)
		}
		src, e := replSource(r)
		if tc.ok != (e == nil) || (tc.ok && src != tc.header) {
			t.Errorf("header %q: %q %v", tc.header, src, e)
		}
		if e != nil && e.Code != api.CodeInvalid {
			t.Errorf("header %q: code %s", tc.header, e.Code)
		}
	}
}
