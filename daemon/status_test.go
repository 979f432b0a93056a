package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/clock"
)

// TestStatusLag checks the lag arithmetic against a fake clock: lag is
// the clock minus the creation time of the target's snapshot, follows
// the clock, is never negative, and falls back to the catalog's time for
// a registry entry an older daemon wrote.
func TestStatusLag(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s, vg := forgetFixture(t, t.TempDir(), []time.Time{t0, t0.Add(time.Hour)})
	fc := clock.NewFake(t0.Add(3 * time.Hour))
	s.clock = fc
	ctx := context.Background()
	sn2, err := s.cat.GetSnapshot(ctx, vg.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	pushedAt := t0.Add(2 * time.Hour)
	s.known.pushed("srv:7443", sn2, pushedAt)

	one := func() api.VGStatus {
		t.Helper()
		rep, err := s.status(ctx, nil)
		if err != nil || len(rep.VGs) != 0 {
			t.Fatalf("status of no VG: %+v %v", rep, err)
		}
		vgs, err := s.cat.ListVGs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rep, err = s.status(ctx, vgs)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Time.Equal(s.clock.Now()) || len(rep.VGs) != 1 {
			t.Fatalf("report time %v (clock %v), %d VGs", rep.Time, s.clock.Now(), len(rep.VGs))
		}
		return rep.VGs[0]
	}
	st := one()
	if st.Name != "web" || st.ID != vg.ID || st.LastSnapshot == nil || st.LastSnapshot.Seq != 2 ||
		st.LastSnapshot.Name != "web@2" || st.LastSnapshot.ID != sn2.ID || !st.LastSnapshot.Created.Equal(t0.Add(time.Hour)) {
		t.Fatalf("last snapshot: %+v", st)
	}
	if len(st.Targets) != 1 {
		t.Fatalf("targets: %+v", st.Targets)
	}
	tg := st.Targets[0]
	if tg.To != "srv:7443" || tg.Snapshot.Seq != 2 || tg.Snapshot.ID != sn2.ID || !tg.Snapshot.Created.Equal(t0.Add(time.Hour)) {
		t.Fatalf("target: %+v", tg)
	}
	if tg.Pushed == nil || !tg.Pushed.Equal(pushedAt) {
		t.Fatalf("pushed %v, want %v", tg.Pushed, pushedAt)
	}
	if tg.LagSeconds != 7200 {
		t.Fatalf("lag %v s, want 7200 (3h on the clock minus the snapshot taken at 1h)", tg.LagSeconds)
	}
	if tg.BacklogBytes != 0 || len(tg.Volumes) != 1 || tg.Volumes[0].Name != "boot" || tg.Volumes[0].BacklogBytes != 0 || tg.BacklogError != "" {
		t.Fatalf("a target at the newest snapshot has no backlog: %+v", tg)
	}
	if st.Schedule != nil || st.Transfer != nil || st.LastError != nil {
		t.Fatalf("no schedule, transfer or error expected: %+v", st)
	}

	fc.Advance(90 * time.Second)
	if lag := one().Targets[0].LagSeconds; lag != 7290 {
		t.Fatalf("lag after 90s: %v, want 7290", lag)
	}
	// A clock set back before the snapshot: no negative lag.
	s.clock = clock.NewFake(t0)
	if lag := one().Targets[0].LagSeconds; lag != 0 {
		t.Fatalf("lag with the clock before the snapshot: %v, want 0", lag)
	}
	s.clock = fc

	// An entry without the times (an older daemon's): the catalog's time.
	s.known.mu.Lock()
	s.known.mu.data.Targets[0].Created, s.known.mu.data.Targets[0].Pushed = time.Time{}, time.Time{}
	s.known.mu.Unlock()
	tg = one().Targets[0]
	if !tg.Snapshot.Created.Equal(t0.Add(time.Hour)) || tg.LagSeconds != 7290 || tg.Pushed != nil {
		t.Fatalf("old entry: %+v", tg)
	}
}

// TestStatusBacklogErrorAndSchedule: a target behind whose manifests are
// unreadable says why it has no backlog; the schedule section appears
// only when the scheduler says the VG has one.
func TestStatusBacklogErrorAndSchedule(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s, vg := forgetFixture(t, t.TempDir(), []time.Time{t0, t0.Add(time.Hour)})
	s.clock = clock.NewFake(t0.Add(2 * time.Hour))
	ctx := context.Background()
	sn1, err := s.cat.GetSnapshot(ctx, vg.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.known.pushed("srv:1", sn1, t0)
	vgs, _ := s.cat.ListVGs(ctx)
	rep, err := s.status(ctx, vgs)
	if err != nil {
		t.Fatal(err)
	}
	tg := rep.VGs[0].Targets[0]
	if tg.BacklogError == "" || tg.BacklogBytes != 0 || tg.LagSeconds != 7200 {
		t.Fatalf("target behind with missing manifests: %+v", tg)
	}
	next := t0.Add(3 * time.Hour)
	want := api.StatusSchedule{Every: "1h", NextRun: &next, LastResult: "failed", LastError: "boom"}
	s.scheduleInfo = func(id string) (api.StatusSchedule, bool) { return want, id == vg.ID }
	rep, err = s.status(ctx, vgs)
	if err != nil {
		t.Fatal(err)
	}
	sc := rep.VGs[0].Schedule
	if sc == nil || sc.Every != "1h" || !sc.NextRun.Equal(next) || sc.LastError != "boom" {
		t.Fatalf("schedule: %+v", sc)
	}
	s.scheduleInfo = func(string) (api.StatusSchedule, bool) { return want, false }
	if rep, _ = s.status(ctx, vgs); rep.VGs[0].Schedule != nil {
		t.Fatalf("schedule shown for a VG without one: %+v", rep.VGs[0].Schedule)
	}
}

func TestStatusLastErrorAndJobVG(t *testing.T) {
	for in, want := range map[string]string{"web": "web", "web@3 to h:1": "web", "store": "store", "/srv/r": "/srv/r"} {
		if got := jobVG(in); got != want {
			t.Errorf("jobVG(%q) = %q, want %q", in, got, want)
		}
	}
	t1 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Minute)
	jobs := []api.Job{
		{ID: "a", Kind: api.JobReplicate, Target: "web@1 to h:1", State: api.StateFailed, Finished: &t2,
			Error: api.Errorf(api.CodeBusy, "later")},
		{ID: "b", Kind: api.JobSnapshot, Target: "web", State: api.StateFailed, Finished: &t1, Error: api.Errorf(api.CodeInternal, "first")},
		{ID: "c", Kind: api.JobSnapshot, Target: "db", State: api.StateFailed, Finished: &t2, Error: api.Errorf(api.CodeInternal, "other vg")},
		{ID: "d", Kind: api.JobSnapshot, Target: "web", State: api.StateDone, Finished: &t2},
	}
	e := lastError(jobs, "web")
	if e == nil || e.JobID != "a" || e.Kind != api.JobReplicate || e.Target != "web@1 to h:1" || !e.Time.Equal(t2) ||
		e.Code != api.CodeBusy || e.Message != "later" {
		t.Fatalf("last error: %+v", e)
	}
	if e := lastError(jobs, "mail"); e != nil {
		t.Fatalf("last error of a VG without failures: %+v", e)
	}
}

// TestJobHistorySurvivesRestart: finished jobs are written to jobsFile and
// a new manager over the same directory lists them, the newest ones only.
func TestJobHistorySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	m := newJobManager(3, log)
	m.persistTo(dir)
	var ids []string
	for i := range 5 {
		j, err := m.startAs(1000, "test", "web", func(ctx context.Context, j *job) (any, error) {
			j.progress("work", 7, 9, "")
			if i == 4 {
				return nil, errors.New("broke")
			}
			return map[string]int{"n": i}, nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		follow(j)
		ids = append(ids, j.id)
		// retire runs after the final event; wait for it.
		for deadline := 0; ; deadline++ {
			m.mu.Lock()
			n := len(m.mu.finished)
			m.mu.Unlock()
			if n == min(i+1, 3) && historyHas(t, dir, j.id) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	m.shutdown()

	m2 := newJobManager(3, log)
	m2.persistTo(dir)
	defer m2.shutdown()
	got := m2.list()
	if len(got) != 3 || got[0].ID != ids[2] || got[2].ID != ids[4] {
		t.Fatalf("history after restart: %+v, want the last 3 of %v", got, ids)
	}
	last := got[2]
	if last.State != api.StateFailed || last.Error == nil || !strings.Contains(last.Error.Message, "broke") ||
		last.Finished == nil || last.Done != 7 || last.Total != 9 || last.Kind != "test" || last.Target != "web" {
		t.Fatalf("failed job after restart: %+v", last)
	}
	if string(got[1].Result) != `{"n":3}` {
		t.Fatalf("result after restart: %s", got[1].Result)
	}
	j, ok := m2.get(ids[3])
	if !ok || j.owner != 1000 {
		t.Fatalf("job %s after restart: %v owner %d", ids[3], ok, j.owner)
	}
	// Its event stream ends at once; cancel does nothing.
	if evs := follow(j); len(evs) != 1 || evs[0].State != api.StateDone {
		t.Fatalf("events of a past job: %+v", evs)
	}
	j.cancel()
	// A new job gets an ID none of the past ones has, and the file keeps
	// at most 3.
	nj, err := m2.start("test", "web", func(context.Context, *job) (any, error) { return nil, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if nj.id == id {
			t.Fatalf("new job reuses ID %s", id)
		}
	}
	follow(nj)

	// A damaged file: no history, no failure.
	if err := os.WriteFile(filepath.Join(dir, jobsFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	m3 := newJobManager(3, log)
	m3.persistTo(dir)
	defer m3.shutdown()
	if n := len(m3.list()); n != 0 {
		t.Fatalf("%d jobs from a damaged file", n)
	}
}

func historyHas(t *testing.T, dir, id string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, jobsFile))
	return err == nil && strings.Contains(string(b), `"`+id+`"`)
}

// TestRegistryOldFormat: a replicas.json written before targets had times
// still loads, and status takes the snapshot's time from the catalog.
func TestRegistryOldFormat(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	s, vg := forgetFixture(t, dir, []time.Time{t0})
	sn, err := s.cat.GetSnapshot(context.Background(), vg.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	old := `{"replicas":{},"targets":[{"to":"srv:1","vg_id":"` + vg.ID + `","snapshot_id":"` + sn.ID + `","seq":1}]}`
	if err := os.WriteFile(filepath.Join(s.storeDir, replicasFile), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	g := newReplicaRegistry(s.storeDir, slog.New(slog.DiscardHandler))
	if d := g.snapshot(); len(d.Targets) != 1 || d.Targets[0].SnapshotID != sn.ID || !d.Targets[0].Created.IsZero() {
		t.Fatalf("old registry: %+v", d)
	}
	s.known = g
	s.clock = clock.NewFake(t0.Add(time.Minute))
	vgs, _ := s.cat.ListVGs(context.Background())
	rep, err := s.status(context.Background(), vgs)
	if err != nil {
		t.Fatal(err)
	}
	tg := rep.VGs[0].Targets[0]
	if !tg.Snapshot.Created.Equal(t0) || tg.LagSeconds != 60 || tg.Pushed != nil {
		t.Fatalf("status of an old entry: %+v", tg)
	}
	// The next push writes the times.
	g.pushed("srv:1", sn, t0.Add(time.Minute))
	b, err := os.ReadFile(filepath.Join(s.storeDir, replicasFile))
	if err != nil || !strings.Contains(string(b), `"created"`) || !strings.Contains(string(b), `"pushed"`) {
		t.Fatalf("registry after a push: %s %v", b, err)
	}
}

// TestJobHistoryByteBound: jobsFile stays under maxJobsFileBytes by
// dropping the oldest jobs, and keeps the newest.
func TestJobHistoryByteBound(t *testing.T) {
	dir := t.TempDir()
	m := newJobManager(1000, slog.New(slog.DiscardHandler))
	m.persistTo(dir)
	big := strings.Repeat("x", 40<<10)
	var last string
	for range 40 { // 40 x 40 KiB: over the bound
		j, err := m.start("test", "web", func(context.Context, *job) (any, error) { return map[string]string{"pad": big}, nil }, nil)
		if err != nil {
			t.Fatal(err)
		}
		follow(j)
		last = j.id
	}
	m.shutdown() // waits for the last retire and its write
	b, err := os.ReadFile(filepath.Join(dir, jobsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > maxJobsFileBytes+1 {
		t.Fatalf("jobs file of %d bytes, over the %d bound", len(b), maxJobsFileBytes)
	}
	m2 := newJobManager(1000, slog.New(slog.DiscardHandler))
	m2.persistTo(dir)
	defer m2.shutdown()
	got := m2.list()
	if len(got) == 0 || len(got) >= 40 || got[len(got)-1].ID != last {
		t.Fatalf("%d jobs kept; want fewer than 40 ending with %s: %v", len(got), last, got)
	}
}
