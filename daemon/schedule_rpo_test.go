package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/clock"
)

// syncBuffer is a log both daemons of a test write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// count is the number of log lines with msg at level.
func (b *syncBuffer) count(level, msg string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b.b.Bytes()))
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "level="+level+" ") && strings.Contains(l, `msg="`+msg+`"`) {
			n++
		}
	}
	return n
}

// metric scrapes the daemon's /metrics, as Prometheus would, and returns
// the value of the series named by line's start ("" when absent).
func (d *schedDaemon) metric(series string) string {
	d.t.Helper()
	rec := httptest.NewRecorder()
	d.srv.HTTPHandler("").ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		d.t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	for l := range strings.SplitSeq(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// waitNext waits until the earliest timer armed on the fake clock is at
// want: the schedule's loop has caught up with a change.
func (d *schedDaemon) waitNext(want time.Time) {
	d.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		next, ok := d.clk.Next()
		if ok && next.Equal(want) {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("earliest timer %v (armed %v), want %v", next, ok, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// hookLines are the lines the test's RPO hook wrote.
func hookLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// An RPO breach driven by the fake clock: a schedule every hour with an
// RPO of 90 minutes is paused after its first run. At 02:30 the newest
// snapshot is exactly 90 minutes old: nothing yet. Past it the warning is
// logged once, the hook runs once, status and /metrics say breached;
// hours later and across a restart nothing fires again. The next good run
// clears it: one log line, the hook with clear, the metric back to 0.
func TestScheduleRPOBreachAndClear(t *testing.T) {
	dir := t.TempDir()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := startSchedDaemonLog(t, dir, clock.NewFake(day0), log)
	ctx := context.Background()
	d.createVG("web", "")
	hook := filepath.Join(dir, "hook.out")
	sc, err := d.cl.SetSchedule(ctx, "web", api.ScheduleRequest{Every: "1h", RPO: "90m",
		OnRPOBreach: `echo "$VMREP_EVENT $VMREP_VG $VMREP_RPO_SECONDS $VMREP_LAG_SECONDS" >>` + hook})
	if err != nil {
		t.Fatal(err)
	}
	if st := sc.RPOState; sc.RPO != "90m" || st == nil || st.RPOSeconds != 5400 || st.LagSeconds != 0 || st.Breached {
		t.Fatalf("schedule set: rpo %q, state %+v", sc.RPO, st)
	}
	d.fireNext(day0.Add(time.Hour))
	d.waitFor("web", "ok", func(s api.Schedule) bool { return s.Status.RunsOK == 1 && idle(s) })
	if _, err := d.cl.PauseSchedule(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	// Paused, the only timer left is the RPO's: the first instant after
	// 01:00 + 90m.
	crossing := day0.Add(150 * time.Minute)
	d.waitNext(crossing.Add(time.Nanosecond))
	d.clk.AdvanceTo(crossing)
	d.srv.sched.waitRPOHooks()
	if n := logs.count("WARN", "schedule: RPO breached"); n != 0 || len(hookLines(t, hook)) != 0 || d.metric(`vmrep_rpo_breached{vg="web"}`) != "0" {
		t.Fatalf("at exactly the RPO: %d warnings, hook %q, metric %s; want nothing yet", n, hookLines(t, hook), d.metric(`vmrep_rpo_breached{vg="web"}`))
	}

	d.clk.Advance(time.Second)
	d.srv.sched.waitRPOHooks()
	checkBreached := func(d *schedDaemon) {
		t.Helper()
		if n := logs.count("WARN", "schedule: RPO breached"); n != 1 {
			t.Errorf("%d breach warnings logged, want 1", n)
		}
		if got := hookLines(t, hook); !slices.Equal(got, []string{"breach web 5400 5400"}) {
			t.Errorf("hook ran %q, want once with breach", got)
		}
		if v := d.metric(`vmrep_rpo_breached{vg="web"}`); v != "1" {
			t.Errorf("vmrep_rpo_breached = %q, want 1", v)
		}
		if v := d.metric(`vmrep_rpo_seconds{vg="web"}`); v != "5400" {
			t.Errorf("vmrep_rpo_seconds = %q, want 5400", v)
		}
		rep, err := d.cl.VGStatus(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		s := rep.VGs[0].Schedule
		if s == nil || !s.RPOBreached || s.RPOSeconds != 5400 || s.BreachedSince == nil || !s.BreachedSince.Equal(crossing) {
			t.Errorf("status schedule %+v, want breached since %v", s, crossing)
		}
	}
	checkBreached(d)
	d.clk.Advance(2 * time.Hour)
	d.srv.sched.waitRPOHooks()
	checkBreached(d)
	if v := d.metric(`vmrep_rpo_lag_seconds{vg="web"}`); v != "12601" {
		t.Errorf("vmrep_rpo_lag_seconds = %q at 04:30:01, want 12601", v)
	}

	// A restart while breached fires nothing again.
	d.stop()
	d2 := startSchedDaemonLog(t, dir, clock.NewFake(day0.Add(5*time.Hour)), log)
	d2.srv.sched.waitRPOHooks()
	checkBreached(d2)

	if _, err := d2.cl.ResumeSchedule(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	d2.fireNext(day0.Add(6 * time.Hour))
	d2.waitFor("web", "ok", func(s api.Schedule) bool { return s.Status.RunsOK == 2 && idle(s) })
	d2.srv.sched.waitRPOHooks()
	if n := logs.count("INFO", "schedule: RPO recovered"); n != 1 {
		t.Errorf("%d recoveries logged, want 1", n)
	}
	if got := hookLines(t, hook); !slices.Equal(got, []string{"breach web 5400 5400", "clear web 5400 0"}) {
		t.Errorf("hook ran %q, want breach then clear", got)
	}
	if v := d2.metric(`vmrep_rpo_breached{vg="web"}`); v != "0" {
		t.Errorf("vmrep_rpo_breached = %q after the good run, want 0", v)
	}
	rep, err := d2.cl.VGStatus(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.VGs[0].Schedule; s == nil || s.RPOBreached || s.BreachedSince != nil || s.RPOLagSeconds != 0 {
		t.Errorf("status schedule after the good run %+v, want not breached", s)
	}
	// The next crossing is armed again, after the next slot.
	d2.waitNext(day0.Add(7 * time.Hour))
	d2.clk.AdvanceTo(day0.Add(7*time.Hour - time.Second))
	if n := logs.count("WARN", "schedule: RPO breached"); n != 1 {
		t.Errorf("%d breach warnings logged, want still 1", n)
	}
}

func TestCheckRPO(t *testing.T) {
	for _, c := range []struct {
		rpo, hook string
		ok        bool
	}{
		{"", "", true},
		{"30m", "", true},
		{"2h", "logger rpo", true},
		{"", "logger rpo", false},
		{"30", "", false},
		{"30s", "", false},
		{"-5m", "", false},
		{"soon", "", false},
	} {
		e := checkRPO(api.ScheduleRequest{RPO: c.rpo, OnRPOBreach: c.hook})
		if (e == nil) != c.ok || (e != nil && e.Code != api.CodeInvalid) {
			t.Errorf("rpo %q hook %q: %v, want ok %v", c.rpo, c.hook, e, c.ok)
		}
	}
}

// A record written before RPOs existed loads without one; a schedule that
// replicates counts from the newest snapshot pushed to its server, by
// this schedule's runs or by hand.
func TestScheduleRPOPoint(t *testing.T) {
	dir := t.TempDir()
	old := `[{"vg_id":"vg-1","vg":"web","spec":{"every":"15m","replicate_to":"srv:7443","token":"t"},` +
		`"anchor":"2026-12-01T00:00:00Z","paused":false,"created":"2026-12-01T00:00:00Z","status":{"last_snapshot":"web@3"}}]`
	path := filepath.Join(dir, schedulesFile)
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	recs, err := loadSchedules(path)
	if err != nil || len(recs) != 1 {
		t.Fatalf("loading an old record: %v, %d", err, len(recs))
	}
	rec := recs[0]
	sc := &scheduler{s: &Server{known: newReplicaRegistry(dir, slog.New(slog.DiscardHandler))}}
	if rec.rpo() != 0 || sc.rpoStateLocked(rec, day0) != nil {
		t.Fatalf("an old record has an RPO: %v", rec.rpo())
	}
	if p := sc.rpoPointLocked(rec); !p.Equal(day0) {
		t.Errorf("nothing delivered: point %v, want the schedule's creation", p)
	}
	rec.Spec.RPO = "30m"
	rec.delivered(day0.Add(time.Hour))
	pushed := volume.Snapshot{VGID: "vg-1", ID: "s4", Seq: 4, Created: day0.Add(2 * time.Hour)}
	sc.s.known.pushed("srv:7443", pushed, day0.Add(2*time.Hour))
	other := volume.Snapshot{VGID: "vg-1", ID: "s5", Seq: 5, Created: day0.Add(3 * time.Hour)}
	sc.s.known.pushed("elsewhere:7443", other, day0.Add(3*time.Hour))
	if p := sc.rpoPointLocked(rec); !p.Equal(day0.Add(2 * time.Hour)) {
		t.Errorf("point %v, want the snapshot pushed to the schedule's server at 02:00", p)
	}
	st := sc.rpoStateLocked(rec, day0.Add(2*time.Hour+31*time.Minute))
	if st == nil || st.RPOSeconds != 1800 || st.LagSeconds != 31*60 || st.Breached {
		t.Errorf("state %+v", st)
	}
	b, err := json.Marshal(rec)
	if err != nil || !strings.Contains(string(b), `"rpo":{"delivered":"2026-12-01T01:00:00Z"}`) {
		t.Errorf("record %s, %v", b, err)
	}
}

// Before anything reaches the destination the lag counts from when the
// schedule was set to it: setting it again as it was goes on counting (a
// breach stays), setting it to a new destination starts again.
func TestScheduleRPOSetAgain(t *testing.T) {
	d := startSchedDaemon(t, t.TempDir(), clock.NewFake(day0))
	ctx := context.Background()
	d.createVG("web", "")
	req := api.ScheduleRequest{Every: "24h", RPO: "1m"}
	if _, err := d.cl.SetSchedule(ctx, "web", req); err != nil {
		t.Fatal(err)
	}
	d.fireNext(day0.Add(time.Minute + time.Nanosecond))
	breached := func(want bool) {
		t.Helper()
		sc, err := d.cl.GetSchedule(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if st := sc.RPOState; st == nil || st.Breached != want {
			t.Fatalf("rpo state %+v, want breached %v", st, want)
		}
	}
	breached(true)
	d.clk.Advance(time.Hour)
	if _, err := d.cl.SetSchedule(ctx, "web", req); err != nil {
		t.Fatal(err)
	}
	breached(true)
	dir := filepath.Join(d.dir, "deltas")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	req.DeltaDir = dir
	if _, err := d.cl.SetSchedule(ctx, "web", req); err != nil {
		t.Fatal(err)
	}
	breached(false)
	d.waitNext(d.clk.Now().Add(time.Minute + time.Nanosecond))
}
