package daemon

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/internal/clock"
)

// day0 is midnight of the simulated day, in UTC: the fake clock's location
// is the schedule's local time.
var day0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// schedDaemon is a real Server over a real store, driven by a fake clock
// and answering on a Unix socket.
type schedDaemon struct {
	t     testing.TB
	dir   string
	clk   *clock.Fake
	srv   *Server
	store *cas.Store
	cl    *client.Client
}

func startSchedDaemon(t testing.TB, dir string, clk *clock.Fake) *schedDaemon {
	t.Helper()
	return startSchedDaemonLog(t, dir, clk, nil)
}

// startSchedDaemonLog is startSchedDaemon with the daemon's log (nil: none).
func startSchedDaemonLog(t testing.TB, dir string, clk *clock.Fake, log *slog.Logger) *schedDaemon {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the daemon's API needs root (peer credentials decide who is an admin)")
	}
	ctx := context.Background()
	storeDir := filepath.Join(dir, "store")
	if _, err := os.Stat(storeDir); os.IsNotExist(err) {
		if err := cas.Init(ctx, storeDir, cas.DefaultConfig()); err != nil {
			t.Fatal(err)
		}
	}
	store, err := cas.Open(ctx, storeDir, cas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Store: store, AllowGroup: -1, Clock: clk, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "run", "vmrepd.sock")
	ln, err := Listen(sock, ListenConfig{Mode: 0o600, Group: -1})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	d := &schedDaemon{t: t, dir: dir, clk: clk, srv: srv, store: store, cl: client.New(sock)}
	t.Cleanup(d.stop)
	return d
}

func (d *schedDaemon) stop() {
	if d.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = d.srv.Shutdown(ctx)
	_ = d.store.Close()
	d.srv = nil
}

// createVG makes a VG of one 1 MiB image with the given pre hook.
func (d *schedDaemon) createVG(name, pre string) {
	d.t.Helper()
	img := filepath.Join(d.dir, name+".img")
	b := make([]byte, 1<<20)
	_, _ = rand.Read(b)
	if err := os.WriteFile(img, b, 0o600); err != nil {
		d.t.Fatal(err)
	}
	req := api.CreateVGRequest{Name: name, Volumes: []api.VolumeSource{{Name: "boot", Role: "boot", Path: img}}, PreSnapshot: pre}
	if _, err := d.cl.CreateVG(context.Background(), req); err != nil {
		d.t.Fatal(err)
	}
}

// waitFor polls the schedule of vg until ok holds; a schedule that never
// gets there fails the test after a generous bound (not a timing check).
func (d *schedDaemon) waitFor(vg, what string, ok func(api.Schedule) bool) api.Schedule {
	d.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		sc, err := d.cl.GetSchedule(context.Background(), vg)
		if err != nil {
			d.t.Fatal(err)
		}
		if ok(sc) {
			return sc
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("schedule of %s: never %s; last %+v", vg, what, sc.Status)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fireNext waits until the schedule's loop has armed its timer at want
// and moves the clock there.
func (d *schedDaemon) fireNext(want time.Time) {
	d.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if next, ok := d.clk.Next(); ok && next.Equal(want) {
			break
		}
		if time.Now().After(deadline) {
			next, _ := d.clk.Next()
			d.t.Fatalf("no timer armed at %v (earliest %v)", want, next)
		}
		time.Sleep(time.Millisecond)
	}
	d.clk.AdvanceTo(want)
}

func idle(sc api.Schedule) bool { return sc.Status.Running == "" }

// A simulated day of a 15-minute schedule with a delta directory and a
// retention policy: 96 runs, one snapshot each, 95 deltas, and the
// snapshots kept are exactly those the policy names.
func TestScheduleSimulatedDay(t *testing.T) {
	d := startSchedDaemon(t, t.TempDir(), clock.NewFake(day0))
	ctx := context.Background()
	d.createVG("web", "")
	deltas := filepath.Join(d.dir, "deltas")
	if err := os.Mkdir(deltas, 0o700); err != nil {
		t.Fatal(err)
	}
	sc, err := d.cl.SetSchedule(ctx, "web", api.ScheduleRequest{Every: "15m", DeltaDir: deltas, Keep: "last=3,hourly=4"})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Status.NextRun == nil || !sc.Status.NextRun.Equal(day0.Add(15*time.Minute)) {
		t.Fatalf("next run %v, want 00:15", sc.Status.NextRun)
	}
	for i := 1; i <= 96; i++ {
		d.fireNext(day0.Add(time.Duration(i) * 15 * time.Minute))
		sc = d.waitFor("web", fmt.Sprintf("done with run %d", i), func(s api.Schedule) bool { return s.Status.RunsOK == int64(i) && idle(s) })
		snaps, err := d.cl.ListSnapshots(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if len(snaps) > 3+4 {
			t.Fatalf("after run %d: %d snapshots, more than last=3 plus hourly=4", i, len(snaps))
		}
		if last := snaps[len(snaps)-1]; last.Seq != uint64(i) {
			t.Fatalf("after run %d the newest snapshot is @%d", i, last.Seq)
		}
	}
	st := sc.Status
	if st.RunsOK != 96 || st.RunsFailed != 0 || st.RunsSkipped != 0 || st.LastResult != api.RunOK || st.LastSnapshot != "web@96" {
		t.Errorf("status after the day: %+v", st)
	}
	if st.NextRun == nil || !st.NextRun.Equal(day0.Add(24*time.Hour+15*time.Minute)) {
		t.Errorf("next run %v, want 00:15 the next day", st.NextRun)
	}
	snaps, err := d.cl.ListSnapshots(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, s := range snaps {
		seqs = append(seqs, s.Seq)
	}
	// last=3: 23:30, 23:45, 24:00; hourly=4: the newest of hours 24, 23,
	// 22 and 21: 24:00, 23:45, 22:45, 21:45.
	if want := []uint64{87, 91, 94, 95, 96}; !slices.Equal(seqs, want) {
		t.Errorf("snapshots kept %v, want %v", seqs, want)
	}
	if st.Removed != 96-5 {
		t.Errorf("snapshots removed %d, want 91", st.Removed)
	}
	files, err := os.ReadDir(deltas)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 95 || files[0].Name() != "web-1-2.vmdelta" {
		t.Errorf("%d delta files (first %v), want 95 from web-1-2.vmdelta", len(files), files[0].Name())
	}
	jobs, err := d.cl.ListJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, j := range jobs {
		if j.Kind == api.JobSchedule && j.Target == "web" && j.State == api.StateDone {
			n++
		}
	}
	if n == 0 || jobs[len(jobs)-1].ID != st.LastJob {
		t.Errorf("%d schedule jobs listed, last %q, want the last run %q", n, jobs[len(jobs)-1].ID, st.LastJob)
	}
}

// A slot that comes while the previous run still runs is skipped and
// counted; the run then ends well.
func TestScheduleOverlapSkipped(t *testing.T) {
	d := startSchedDaemon(t, t.TempDir(), clock.NewFake(day0))
	ctx := context.Background()
	release := filepath.Join(d.dir, "release")
	d.createVG("db", "while [ ! -e "+release+" ]; do sleep 0.01; done")
	if _, err := d.cl.SetSchedule(ctx, "db", api.ScheduleRequest{Every: "15m"}); err != nil {
		t.Fatal(err)
	}
	d.fireNext(day0.Add(15 * time.Minute))
	sc := d.waitFor("db", "running", func(s api.Schedule) bool { return s.Status.Running != "" })
	j, err := d.cl.GetJob(ctx, sc.Status.Running)
	if err != nil || j.Kind != api.JobSchedule || api.Final(j.State) {
		t.Fatalf("the run's job: %+v, %v", j, err)
	}
	d.fireNext(day0.Add(30 * time.Minute))
	d.fireNext(day0.Add(45 * time.Minute))
	sc = d.waitFor("db", "skipped twice", func(s api.Schedule) bool { return s.Status.RunsSkipped == 2 })
	if sc.Status.Running == "" || sc.Status.RunsOK != 0 {
		t.Fatalf("status while the first run runs: %+v", sc.Status)
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sc = d.waitFor("db", "done", func(s api.Schedule) bool { return s.Status.RunsOK == 1 && idle(s) })
	if sc.Status.RunsSkipped != 2 || sc.Status.RunsFailed != 0 || !sc.Status.NextRun.Equal(day0.Add(time.Hour)) {
		t.Errorf("status: %+v", sc.Status)
	}
	d.fireNext(day0.Add(time.Hour))
	d.waitFor("db", "run again", func(s api.Schedule) bool { return s.Status.RunsOK == 2 && idle(s) })
}

// A failing run (its pre hook fails) is retried after 1m, 2m, 4m ...
// with the error recorded; the first good run resets the backoff and the
// error stays on record.
func TestScheduleFailureBackoff(t *testing.T) {
	d := startSchedDaemon(t, t.TempDir(), clock.NewFake(day0))
	ctx := context.Background()
	broken := filepath.Join(d.dir, "broken")
	if err := os.WriteFile(broken, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d.createVG("app", "test ! -e "+broken)
	if _, err := d.cl.SetSchedule(ctx, "app", api.ScheduleRequest{Every: "1h", At: "00:30"}); err != nil {
		t.Fatal(err)
	}
	at := day0.Add(30 * time.Minute) // --at anchors the phase
	for n, wait := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute} {
		d.fireNext(at)
		sc := d.waitFor("app", "failed", func(s api.Schedule) bool { return s.Status.Failures == n+1 && idle(s) })
		st := sc.Status
		if st.LastResult != api.RunFailed || !strings.Contains(st.LastError, "hook") || st.LastErrorTime == nil || !st.LastErrorTime.Equal(at) {
			t.Fatalf("after failure %d: %+v", n+1, st)
		}
		at = at.Add(wait)
		if sc = d.waitFor("app", "retry armed", func(s api.Schedule) bool { return s.Status.NextRun != nil && s.Status.NextRun.Equal(at) }); sc.Status.RunsFailed != int64(n+1) {
			t.Fatalf("runs failed %d, want %d", sc.Status.RunsFailed, n+1)
		}
	}
	// 00:30+1+2+4+8 = 00:45; the next wait (16m) would pass the 01:30 slot
	// only later, so a fix shows at the retry.
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	d.fireNext(at)
	sc := d.waitFor("app", "ok", func(s api.Schedule) bool { return s.Status.RunsOK == 1 && idle(s) })
	st := sc.Status
	if st.Failures != 0 || st.RunsFailed != 4 || st.LastResult != api.RunOK || st.LastError == "" || !st.NextRun.Equal(day0.Add(90*time.Minute)) {
		t.Errorf("after the good run: %+v", st)
	}
}

// The retry waits at most the interval.
func TestRetryBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 5: 16 * time.Minute, 7: time.Hour, 500: time.Hour} {
		if got := retryBackoff(n, time.Hour); got != want {
			t.Errorf("retryBackoff(%d, 1h) = %v, want %v", n, got, want)
		}
	}
	if got := nextSlot(day0.Add(2*time.Hour), 24*time.Hour, day0.Add(3*time.Hour)); !got.Equal(day0.Add(26 * time.Hour)) {
		t.Errorf("every 24h at 02:00, after 03:00: %v", got)
	}
	if got := nextSlot(day0.Add(2*time.Hour), 15*time.Minute, day0.Add(time.Hour)); !got.Equal(day0.Add(75 * time.Minute)) {
		t.Errorf("every 15m anchored at 02:00, after 01:00: %v", got)
	}
}

// Schedules and their record survive a restart, paused or not, and a
// restarted daemon runs them on.
func TestScheduleSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	d := startSchedDaemon(t, dir, clock.NewFake(day0))
	ctx := context.Background()
	d.createVG("web", "")
	d.createVG("db", "")
	if _, err := d.cl.SetSchedule(ctx, "web", api.ScheduleRequest{Every: "15m", Keep: "last=2"}); err != nil {
		t.Fatal(err)
	}
	// A target that is not listening: db's runs fail.
	if _, err := d.cl.SetSchedule(ctx, "db", api.ScheduleRequest{Every: "30m", ReplicateTo: "127.0.0.1:" + freePort(t), Token: "secret"}); err != nil {
		t.Fatal(err)
	}
	d.fireNext(day0.Add(15 * time.Minute))
	d.waitFor("web", "ok", func(s api.Schedule) bool { return s.Status.RunsOK == 1 && idle(s) })
	d.fireNext(day0.Add(30 * time.Minute))
	d.waitFor("web", "ok", func(s api.Schedule) bool { return s.Status.RunsOK == 2 && idle(s) })
	db := d.waitFor("db", "failed", func(s api.Schedule) bool { return s.Status.RunsFailed == 1 && idle(s) })
	if db.ReplicateTo == "" || db.Status.LastError == "" {
		t.Fatalf("db: %+v", db)
	}
	if _, err := d.cl.PauseSchedule(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	d.stop()

	d2 := startSchedDaemon(t, dir, clock.NewFake(day0.Add(10*time.Hour)))
	list, err := d2.cl.ListSchedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].VG != "db" || list[1].VG != "web" {
		t.Fatalf("schedules after the restart: %+v", list)
	}
	if db := list[0]; !db.Paused || db.Status.NextRun != nil || db.Status.RunsFailed != 1 || db.Status.LastError == "" {
		t.Errorf("db after the restart: %+v", db)
	}
	web := list[1]
	if web.Every != "15m0s" || web.Keep != "last=2" || web.Status.RunsOK != 2 || web.Status.LastSnapshot != "web@2" {
		t.Errorf("web after the restart: %+v", web)
	}
	// Slots missed while the daemon was down are not caught up.
	next := day0.Add(10*time.Hour + 15*time.Minute)
	if web.Status.NextRun == nil || !web.Status.NextRun.Equal(next) {
		t.Errorf("next run %v, want %v", web.Status.NextRun, next)
	}
	d2.fireNext(next)
	d2.waitFor("web", "ok", func(s api.Schedule) bool { return s.Status.RunsOK == 3 && idle(s) })
	b, err := os.ReadFile(filepath.Join(dir, "store", schedulesFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "store", schedulesFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600 (it holds tokens)", schedulesFile, fi.Mode().Perm())
	}
	if !strings.Contains(string(b), "secret") {
		t.Errorf("the token was not kept")
	}
	// The schedule of a VG deleted since is still shown and deleted.
	if err := d2.cl.DeleteVG(ctx, "db", true); err != nil {
		t.Fatal(err)
	}
	if sc, err := d2.cl.GetSchedule(ctx, "db"); err != nil || sc.VG != "db" {
		t.Fatalf("schedule of a deleted VG: %+v, %v", sc, err)
	}
	if err := d2.cl.DeleteSchedule(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	var ae *api.Error
	if _, err := d2.cl.GetSchedule(ctx, "db"); !errors.As(err, &ae) || ae.Code != api.CodeNotFound {
		t.Errorf("deleted schedule: %v", err)
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}
