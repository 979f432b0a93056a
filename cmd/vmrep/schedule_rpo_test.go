package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// --rpo and --on-rpo-breach are checked before the daemon is asked: a
// bad value is a usage error (exit 2, one line).
func TestScheduleRPOFlags(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--rpo", "soon"}, `--rpo "soon": want a duration`},
		{[]string{"--rpo", "30"}, `--rpo "30": want a duration`},
		{[]string{"--rpo", "20s"}, `--rpo "20s": want a duration of at least a minute`},
		{[]string{"--rpo", "-30m"}, `--rpo "-30m"`},
		{[]string{"--on-rpo-breach", "logger rpo"}, "--on-rpo-breach needs --rpo"},
	} {
		argv := append([]string{"--socket", sock, "schedule", "set", "web", "--every", "15m"}, c.args...)
		r := run(argv...)
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", c.args, r.code, r.stderr, c.msg)
		}
	}
	// Good flags get as far as the daemon, which is not there.
	r := run("--socket", sock, "schedule", "set", "web", "--every", "15m", "--rpo", "30m", "--on-rpo-breach", "logger rpo")
	if r.code != 1 || !strings.Contains(r.stderr, "vmrepd is not running") {
		t.Errorf("good flags: exit %d, stderr %q; want the daemon asked", r.code, r.stderr)
	}
	if r := run("schedule", "set", "--help"); r.code != 0 || !strings.Contains(r.stdout, "VMREP_EVENT=clear") {
		t.Errorf("schedule set --help does not say the hook runs again on clear: %q", r.stdout)
	}
}

func TestRPOText(t *testing.T) {
	since := time.Date(2026, 12, 1, 2, 30, 0, 0, time.Local)
	for _, c := range []struct {
		rpo, lag float64
		breached bool
		want     string
	}{
		{1800, 720, false, "RPO 30m ok (lag 12m0s)"},
		{7200, 9000, true, "RPO 2h BREACHED since 2026-12-01 02:30:00 (lag 2h30m)"},
		{5400, 0, false, "RPO 1h30m ok (lag 0s)"},
		{90, 0, false, "RPO 1m30s ok (lag 0s)"},
	} {
		if got := rpoText(c.rpo, c.lag, c.breached, &since); got != c.want {
			t.Errorf("rpoText(%v, %v, %v) = %q, want %q", c.rpo, c.lag, c.breached, got, c.want)
		}
	}
}
