package main

import (
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

// TestScheduleRPOCommands sets an RPO through the CLI against a real
// vmrepd: schedule show and status print it, --json carries it, and it
// survives a restart. The breach itself is daemon/schedule_rpo_test.go's,
// on a fake clock.
func TestScheduleRPOCommands(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 1<<20, 1)
	out := d.ok("schedule", "set", "web", "--every", "24h", "--rpo", "2h", "--on-rpo-breach", "logger -t vmrep rpo")
	for _, want := range []string{"rpo:", "RPO 2h ok (lag 0s)", "on rpo breach:", "logger -t vmrep rpo"} {
		if !strings.Contains(out, want) {
			t.Errorf("schedule set text lacks %q:\n%s", want, out)
		}
	}
	check := func() {
		t.Helper()
		var sc api.Schedule
		d.okJSON(&sc, "schedule", "show", "web")
		if st := sc.RPOState; sc.RPO != "2h" || sc.OnRPOBreach != "logger -t vmrep rpo" || st == nil || st.RPOSeconds != 7200 || st.Breached {
			t.Errorf("schedule show --json: rpo %q hook %q state %+v", sc.RPO, sc.OnRPOBreach, sc.RPOState)
		}
		var rep api.StatusReport
		d.okJSON(&rep, "status", "web")
		if s := rep.VGs[0].Schedule; s == nil || s.RPOSeconds != 7200 || s.RPOBreached || s.BreachedSince != nil {
			t.Errorf("status --json schedule: %+v", s)
		}
		if out := d.ok("status", "web"); !strings.Contains(out, "  RPO 2h ok (lag ") {
			t.Errorf("status text lacks the RPO line:\n%s", out)
		}
	}
	check()
	d.stop()
	d.start()
	check()
	// Set again without --rpo: none.
	var sc api.Schedule
	d.okJSON(&sc, "schedule", "set", "web", "--every", "24h")
	if sc.RPO != "" || sc.RPOState != nil {
		t.Errorf("set without --rpo: rpo %q state %+v", sc.RPO, sc.RPOState)
	}
	if out := d.ok("status", "web"); strings.Contains(out, "RPO") {
		t.Errorf("status shows an RPO after it was removed:\n%s", out)
	}
}
