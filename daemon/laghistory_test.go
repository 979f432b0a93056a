package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/clock"
)

// fakeLag is what the recorder under test reads: lag seconds per VG ID
// and target, which the test changes as its clock moves.
type fakeLag struct {
	mu  sync.Mutex
	now map[string]lagReading
}

func (f *fakeLag) set(vgID, vg, to string, lag float64, backlog int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.now == nil {
		f.now = map[string]lagReading{}
	}
	f.now[lagKey(vgID, to)] = lagReading{VGID: vgID, VG: vg, To: to, Lag: lag, Backlog: backlog}
}

func (f *fakeLag) drop(vgID, to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.now, lagKey(vgID, to))
}

func (f *fakeLag) read(context.Context) ([]lagReading, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []lagReading
	for _, r := range f.now {
		out = append(out, r)
	}
	return out, nil
}

// runRecorder runs r until the returned function stops it.
func runRecorder(t *testing.T, r *lagRecorder) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run(ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// tick waits for the recorder to arm its timer, fires it, and waits for
// the sample it takes (it arms the next timer after saving).
func tick(t *testing.T, fc *clock.Fake) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fc.BlockUntil(ctx, 1); err != nil {
		t.Fatal("the recorder never waited on the clock")
	}
	fc.AdvanceToNext()
	if err := fc.BlockUntil(ctx, 1); err != nil {
		t.Fatal("the recorder did not come back from its sample")
	}
}

func samplesOf(t *testing.T, r *lagRecorder, vgID, to string) []lagPoint {
	t.Helper()
	for _, s := range r.history(vgID) {
		if s.To == to {
			return s.Samples
		}
	}
	return nil
}

// TestLagRecorder drives the recorder with a fake clock: a sample on each
// minute of the clock with the lag read then, a sample at once when
// poked, a window of 24 hours, series of targets gone dropped when their
// last sample leaves it, and the history kept across a restart.
func TestLagRecorder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, lagHistoryFile)
	t0 := time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC)
	fc := clock.NewFake(t0)
	var src fakeLag
	r := newLagRecorder(path, fc, src.read, slog.New(slog.DiscardHandler))
	stop := runRecorder(t, r)

	// Ten minutes: a sample on each minute mark, lag growing a minute each.
	for i := 1; i <= 10; i++ {
		src.set("vg-1", "web", "a:1", float64(60*i), int64(1000*i))
		tick(t, fc)
	}
	got := samplesOf(t, r, "vg-1", "a:1")
	if len(got) != 10 {
		t.Fatalf("%d samples after 10 minutes: %+v", len(got), got)
	}
	for i, p := range got {
		want := t0.Truncate(time.Minute).Add(time.Duration(i+1) * time.Minute).Unix()
		if p.At != want || p.Lag != float64(60*(i+1)) || p.Backlog != int64(1000*(i+1)) {
			t.Fatalf("sample %d = %+v, want at %d lag %d", i, p, want, 60*(i+1))
		}
	}
	if h := r.history("vg-2"); len(h) != 0 {
		t.Fatalf("history of a VG never sampled: %+v", h)
	}

	// A push pokes it: a sample at once, without the clock moving.
	src.set("vg-1", "web", "a:1", 0, 0)
	src.set("vg-2", "db", "b:2", 5, 7)
	r.poke()
	deadline := time.Now().Add(time.Minute)
	for len(samplesOf(t, r, "vg-2", "b:2")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a poke took no sample")
		}
		time.Sleep(time.Millisecond)
	}
	// It stopped its timer before the sample; it arms the next once saved.
	if err := fc.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if got := samplesOf(t, r, "vg-1", "a:1"); len(got) != 11 || got[10].At != fc.Now().Unix() || got[10].Lag != 0 {
		t.Fatalf("after the poke: %+v", got)
	}

	// The file holds what memory holds.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("history not saved: %v", err)
	}
	if !strings.Contains(string(b), `"to":"b:2"`) {
		t.Fatalf("saved history: %s", b)
	}

	// vg-2's target goes away. The daemon stops until a day less fifteen
	// minutes after the first sample, then samples sixteen minutes: the
	// first ten samples and the poke's leave the window, and with them
	// the series of vg-2.
	src.drop("vg-2", "b:2")
	stop()
	fc.Advance(lagKeep - 15*time.Minute)
	stop = runRecorder(t, r)
	for range 16 {
		tick(t, fc)
	}
	now := fc.Now()
	got = samplesOf(t, r, "vg-1", "a:1")
	if len(got) != 16 || got[0].At != now.Add(-15*time.Minute).Unix() {
		t.Fatalf("window at %v: %d samples from %v", now, len(got), time.Unix(got[0].At, 0).UTC())
	}
	if h := r.history("vg-2"); len(h) != 0 {
		t.Fatalf("series of a target gone for a day: %+v", h)
	}

	// A restart keeps what is still within a day of its clock.
	stop()
	fc2 := clock.NewFake(now.Add(lagKeep - 11*time.Minute))
	r2 := newLagRecorder(path, fc2, src.read, slog.New(slog.DiscardHandler))
	kept := samplesOf(t, r2, "vg-1", "a:1")
	var want []lagPoint
	for _, p := range got {
		if p.At >= fc2.Now().Add(-lagKeep).Unix() {
			want = append(want, p)
		}
	}
	if len(kept) != len(want) || len(want) != 12 {
		t.Fatalf("after a restart: %d samples, want %d of %d", len(kept), len(want), len(got))
	}
	for i := range want {
		if kept[i] != want[i] {
			t.Fatalf("sample %d after the restart: %+v, want %+v", i, kept[i], want[i])
		}
	}
	runRecorder(t, r2)
	tick(t, fc2)
	// One sample in at the next minute, the oldest out.
	after := samplesOf(t, r2, "vg-1", "a:1")
	if len(after) != len(want) || after[len(after)-1].At != fc2.Now().Unix() || after[0] != want[1] {
		t.Fatalf("restarted recorder's first sample: %+v", after)
	}
}

// A damaged history file is no reason not to start: the history starts
// empty and the next sample replaces the file.
func TestLagRecorderDamagedFile(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":   "{not json",
		"version":   `{"version":9,"series":[]}`,
		"no target": `{"version":1,"series":[{"vg_id":"v","samples":[[1,2,3]]}]}`,
		"sample":    `{"version":1,"series":[{"vg_id":"v","to":"a","samples":[[1,"x",3]]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), lagHistoryFile)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			fc := clock.NewFake(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
			var src fakeLag
			src.set("v", "web", "a", 1, 2)
			var logged strings.Builder
			r := newLagRecorder(path, fc, src.read, slog.New(slog.NewTextHandler(&logged, nil)))
			if h := r.history("v"); len(h) != 0 {
				t.Fatalf("history from a damaged file: %+v", h)
			}
			if !strings.Contains(logged.String(), "starting empty") {
				t.Fatalf("nothing logged: %q", logged.String())
			}
			runRecorder(t, r)
			tick(t, fc)
			if d, err := loadLagHistory(path); err != nil || len(d.Series) != 1 || len(d.Series[0].Samples) != 1 {
				t.Fatalf("file after a sample: %+v %v", d, err)
			}
		})
	}
}

// With no target to sample, the recorder writes nothing.
func TestLagRecorderIdle(t *testing.T) {
	path := filepath.Join(t.TempDir(), lagHistoryFile)
	fc := clock.NewFake(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	var src fakeLag
	r := newLagRecorder(path, fc, src.read, slog.New(slog.DiscardHandler))
	runRecorder(t, r)
	for range 3 {
		tick(t, fc)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("history written with nothing to record: %v", err)
	}
}
