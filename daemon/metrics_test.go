package daemon

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/clock"
)

// Scheduled runs are counted by result as the scheduler records them: a
// slot due while a run is going is skipped, a failed hook fails the run.
// The registry, status collector included, passes the lint.
func TestMetricsScheduleRuns(t *testing.T) {
	d := startSchedDaemon(t, t.TempDir(), clock.NewFake(day0))
	ctx := context.Background()
	release, broken := filepath.Join(d.dir, "release"), filepath.Join(d.dir, "broken")
	d.createVG("db", "while [ ! -e "+release+" ]; do sleep 0.01; done; test ! -e "+broken)
	if _, err := d.cl.SetSchedule(ctx, "db", api.ScheduleRequest{Every: "15m"}); err != nil {
		t.Fatal(err)
	}
	runs := func(result string) float64 {
		return testutil.ToFloat64(d.srv.metrics.scheduleRuns.WithLabelValues("db", result))
	}
	d.fireNext(day0.Add(15 * time.Minute))
	d.waitFor("db", "running", func(s api.Schedule) bool { return s.Status.Running != "" })
	d.fireNext(day0.Add(30 * time.Minute))
	d.waitFor("db", "skipped", func(s api.Schedule) bool { return s.Status.RunsSkipped == 1 })
	if runs(runSkipped) != 1 || runs(api.RunOK) != 0 {
		t.Errorf("while the first run runs: skipped %v, ok %v", runs(runSkipped), runs(api.RunOK))
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d.waitFor("db", "done", func(s api.Schedule) bool { return s.Status.RunsOK == 1 && idle(s) })
	if err := os.WriteFile(broken, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d.fireNext(day0.Add(45 * time.Minute))
	d.waitFor("db", "failed", func(s api.Schedule) bool { return s.Status.RunsFailed == 1 && idle(s) })
	if runs(api.RunOK) != 1 || runs(api.RunFailed) != 1 || runs(runSkipped) != 1 {
		t.Errorf("ok %v, failed %v, skipped %v; want 1 each", runs(api.RunOK), runs(api.RunFailed), runs(runSkipped))
	}
	// The schedule's status is recorded inside its job, so the job may
	// end just after.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		n := testutil.CollectAndCount(d.srv.metrics.jobDuration)
		if n == 2 {
			break
		}
		if n > 2 || time.Now().After(deadline) {
			t.Fatalf("job duration series: %d, want 2 (schedule done, schedule failed)", n)
		}
	}

	problems, err := testutil.GatherAndLint(d.srv.metrics.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// The schedule's next run (the retry), on the daemon's (fake) clock.
	sc, err := d.cl.GetSchedule(ctx, "db")
	if err != nil || sc.Status.NextRun == nil {
		t.Fatalf("schedule: %+v, %v", sc, err)
	}
	want := `vmrep_schedule_next_run_timestamp_seconds{vg="db"} ` + strconv.FormatFloat(unixSeconds(*sc.Status.NextRun), 'g', -1, 64)
	rec := httptest.NewRecorder()
	d.srv.HTTPHandler("").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("/metrics: %d, want %s:\n%s", rec.Code, want, grepLines(string(body), "vmrep_schedule"))
	}
}

// Two servers in one process have registries of their own.
func TestMetricsRegistryPerServer(t *testing.T) {
	a := startSchedDaemon(t, t.TempDir(), clock.NewFake(day0))
	b := startSchedDaemon(t, t.TempDir(), clock.NewFake(day0))
	a.srv.metrics.fuseRead(10, nil)
	if x, y := testutil.ToFloat64(a.srv.metrics.fuseReadBytes), testutil.ToFloat64(b.srv.metrics.fuseReadBytes); x != 10 || y != 0 {
		t.Errorf("FUSE bytes: %v and %v, want 10 and 0", x, y)
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
