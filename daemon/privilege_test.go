package daemon

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

// designMatrix reads the route × caller table of doc/design.md's
// "Privilege model": route pattern → whether a member may call it.
func designMatrix(t *testing.T) map[string]bool {
	t.Helper()
	doc, err := os.ReadFile("../doc/design.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "\n## Privilege model\n")
	if !ok {
		t.Fatal(`doc/design.md has no "## Privilege model" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	m := map[string]bool{}
	for _, line := range strings.Split(sec, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 7 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		pattern := strings.Split(strings.TrimSpace(cells[1]), "`")[1]
		if _, dup := m[pattern]; dup {
			t.Errorf("doc/design.md lists %s twice", pattern)
		}
		m[pattern] = strings.TrimSpace(cells[4]) != "no"
		if other := strings.TrimSpace(cells[5]); other != "no" {
			t.Errorf("doc/design.md lets other uids call %s (%q)", pattern, other)
		}
	}
	return m
}

// TestRouteAccess fails when a route has no access level or no words for
// a refusal, or when the table and the design's matrix differ.
func TestRouteAccess(t *testing.T) {
	s := &Server{}
	doc := designMatrix(t)
	seen := map[string]bool{}
	for _, rt := range s.routeTable() {
		seen[rt.pattern] = true
		if rt.access != accessMember && rt.access != accessAdmin {
			t.Errorf("route %s has access %v: give it a level in routeTable", rt.pattern, rt.access)
		}
		if rt.what == "" || rt.handle == nil {
			t.Errorf("route %s lacks its description or handler", rt.pattern)
		}
		member, ok := doc[rt.pattern]
		switch {
		case !ok:
			t.Errorf("route %s is not in doc/design.md's privilege matrix", rt.pattern)
		case member != (rt.access == accessMember):
			t.Errorf("route %s: doc says member allowed %v, table says %v", rt.pattern, member, rt.access)
		}
	}
	for p := range doc {
		if !seen[p] {
			t.Errorf("doc/design.md's privilege matrix lists %s, which is not a route", p)
		}
	}
}

func TestRequire(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler), auth: authorizer{allowGroup: 1000}}
	member := caller{uid: 1000, gid: 1000}
	admin := caller{uid: 0, gid: 0, admin: true}
	for _, tc := range []struct {
		name   string
		access access
		c      caller
		served bool
	}{
		{"member on member route", accessMember, member, true},
		{"member on admin route", accessAdmin, member, false},
		{"member on route without level", accessUnset, member, false},
		{"admin on admin route", accessAdmin, admin, true},
		{"admin on route without level", accessUnset, admin, true},
		{"no caller on admin route", accessAdmin, callerOf(httptest.NewRequest("GET", "/", nil)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			served := false
			h := s.require(route{"POST /v1/vgs", tc.access, "creating a volume group", func(http.ResponseWriter, *http.Request) error { served = true; return nil }})
			r := httptest.NewRequest("POST", "/v1/vgs", nil)
			if tc.c.uid != -2 {
				r = r.WithContext(withCaller(r.Context(), tc.c))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if served != tc.served {
				t.Fatalf("served %v, want %v (status %d)", served, tc.served, w.Code)
			}
			if served {
				return
			}
			var e api.Error
			json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != http.StatusForbidden || e.Code != api.CodeForbidden {
				t.Fatalf("refusal: status %d code %q", w.Code, e.Code)
			}
			if tc.c == member {
				want := "creating a volume group needs root (uid 0 or the daemon's uid); uid 1000 is a member of group 1000, which may only read and snapshot existing volume groups"
				if e.Message != want {
					t.Fatalf("refusal %q, want %q", e.Message, want)
				}
			}
		})
	}
}
