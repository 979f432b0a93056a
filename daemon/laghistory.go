package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/vmrep/vmrep/internal/clock"
	"github.com/vmrep/vmrep/internal/durable"
)

// lagHistoryFile keeps the last day of lag samples per VG and target, for
// the status page's charts, across restarts.
const lagHistoryFile = "lag-history.json"

const (
	// lagSampleEvery is how often the recorder samples; a push also takes
	// a sample at once, so the chart shows the drop when it happens.
	lagSampleEvery = time.Minute
	// lagKeep is how far back the history goes.
	lagKeep = 24 * time.Hour
	// lagMaxSamples bounds one series (a day of minutes and as many
	// pushes again); the oldest go first.
	lagMaxSamples = 2 * int(lagKeep/lagSampleEvery)
	// lagMaxFile bounds the file read at start.
	lagMaxFile = 64 << 20
)

// lagReading is one target's lag and backlog at one moment.
type lagReading struct {
	VGID    string
	VG      string // the VG's name now
	To      string
	Lag     float64 // seconds
	Backlog int64   // bytes
}

// lagPoint is one sample of a series: Unix seconds, lag seconds, backlog
// bytes; an array in the file to keep it small.
type lagPoint struct {
	At      int64
	Lag     float64
	Backlog int64
}

func (p lagPoint) MarshalJSON() ([]byte, error) {
	return json.Marshal([3]any{p.At, p.Lag, p.Backlog})
}

func (p *lagPoint) UnmarshalJSON(b []byte) error {
	var a [3]json.Number
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	at, err1 := a[0].Int64()
	lag, err2 := a[1].Float64()
	bl, err3 := a[2].Int64()
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("lag sample %s: %w", b, err)
	}
	*p = lagPoint{At: at, Lag: lag, Backlog: bl}
	return nil
}

// lagSeries is the samples of one VG against one target, oldest first.
type lagSeries struct {
	VGID    string     `json:"vg_id"`
	VG      string     `json:"vg"`
	To      string     `json:"to"`
	Samples []lagPoint `json:"samples"`
}

type lagHistoryData struct {
	Version int          `json:"version"`
	Series  []*lagSeries `json:"series"`
}

// lagRecorder samples the lag of every VG against every target each
// lagSampleEvery on its clock and keeps lagKeep of samples in memory,
// written through to lagHistoryFile after each sample.
type lagRecorder struct {
	path  string
	clock clock.Clock
	read  func(context.Context) ([]lagReading, error)
	log   *slog.Logger
	poked chan struct{}

	mu struct {
		sync.Mutex
		series  map[string]*lagSeries // by vg ID and target
		saveErr string                // the last error saving, logged once
	}
}

// newLagRecorder loads the history at path; a file that cannot be read is
// logged and the history starts empty (it is only a chart).
func newLagRecorder(path string, c clock.Clock, read func(context.Context) ([]lagReading, error), log *slog.Logger) *lagRecorder {
	r := &lagRecorder{path: path, clock: c, read: read, log: log, poked: make(chan struct{}, 1)}
	r.mu.series = map[string]*lagSeries{}
	d, err := loadLagHistory(path)
	if err != nil {
		log.Warn("lag history: starting empty", "err", err)
	}
	for _, s := range d.Series {
		r.mu.series[lagKey(s.VGID, s.To)] = s
	}
	r.trimLocked(c.Now())
	return r
}

func loadLagHistory(path string) (lagHistoryData, error) {
	var d lagHistoryData
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return d, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return d, err
	} else if fi.Size() > lagMaxFile {
		return d, fmt.Errorf("%s: %d bytes, more than the %d a day of samples can take", path, fi.Size(), lagMaxFile)
	}
	if err := json.NewDecoder(f).Decode(&d); err != nil {
		return lagHistoryData{}, fmt.Errorf("%s: %w", path, err)
	}
	if d.Version != 1 {
		return lagHistoryData{}, fmt.Errorf("%s: version %d, want 1", path, d.Version)
	}
	for _, s := range d.Series {
		if s == nil || s.VGID == "" || s.To == "" {
			return lagHistoryData{}, fmt.Errorf("%s: a series without a VG or target", path)
		}
	}
	return d, nil
}

func lagKey(vgID, to string) string { return vgID + " " + to }

// run samples until ctx ends: on each minute of the clock, and when poked.
func (r *lagRecorder) run(ctx context.Context) {
	for {
		now := r.clock.Now()
		t := r.clock.NewTimer(now.Truncate(lagSampleEvery).Add(lagSampleEvery).Sub(now))
		select {
		case <-t.C():
		case <-r.poked:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return
		}
		r.sample(ctx)
	}
}

// poke asks for a sample now (a push ended); it never blocks.
func (r *lagRecorder) poke() {
	if r == nil {
		return
	}
	select {
	case r.poked <- struct{}{}:
	default:
	}
}

// sample reads every target's lag, appends it and saves the history.
func (r *lagRecorder) sample(ctx context.Context) {
	rs, err := r.read(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("lag history: reading the status", "err", err)
		}
		return
	}
	now := r.clock.Now()
	r.mu.Lock()
	for _, x := range rs {
		k := lagKey(x.VGID, x.To)
		s := r.mu.series[k]
		if s == nil {
			s = &lagSeries{VGID: x.VGID, To: x.To}
			r.mu.series[k] = s
		}
		s.VG = x.VG
		// Whole seconds: plenty for a day's chart, and a smaller file.
		s.Samples = append(s.Samples, lagPoint{At: now.Unix(), Lag: math.Round(x.Lag), Backlog: x.Backlog})
	}
	if !r.trimLocked(now) && len(rs) == 0 {
		r.mu.Unlock() // nothing to record: no write each minute for nothing
		return
	}
	b, err := json.Marshal(lagHistoryData{Version: 1, Series: r.sortedLocked()})
	r.mu.Unlock()
	if err == nil {
		// Only this goroutine writes the file: no lock while it syncs.
		err = durable.WriteFile(r.path, b, 0o600)
	}
	r.saved(err)
}

// trimLocked drops samples older than lagKeep before now (and after it:
// a clock set back), beyond lagMaxSamples, and empty series; it says
// whether it dropped any.
func (r *lagRecorder) trimLocked(now time.Time) bool {
	from, to := now.Add(-lagKeep).Unix(), now.Unix()
	dropped := false
	for k, s := range r.mu.series {
		kept := s.Samples[:0]
		for _, p := range s.Samples {
			if p.At >= from && p.At <= to {
				kept = append(kept, p)
			}
		}
		if n := len(kept) - lagMaxSamples; n > 0 {
			kept = kept[n:]
		}
		dropped = dropped || len(kept) != len(s.Samples)
		s.Samples = kept
		if len(kept) == 0 {
			delete(r.mu.series, k)
		}
	}
	return dropped
}

// saved logs an error saving the history, once until it changes.
func (r *lagRecorder) saved(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg != "" && msg != r.mu.saveErr {
		r.log.Warn("lag history: saving", "err", err)
	}
	r.mu.saveErr = msg
}

func (r *lagRecorder) sortedLocked() []*lagSeries {
	out := make([]*lagSeries, 0, len(r.mu.series))
	for _, s := range r.mu.series {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].VGID != out[j].VGID {
			return out[i].VGID < out[j].VGID
		}
		return out[i].To < out[j].To
	})
	return out
}

// history returns a copy of the series of the VG with ID vgID, by target.
func (r *lagRecorder) history(vgID string) []lagSeries {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []lagSeries
	for _, s := range r.sortedLocked() {
		if s.VGID == vgID {
			c := *s
			c.Samples = append([]lagPoint(nil), s.Samples...)
			out = append(out, c)
		}
	}
	return out
}

// lagReadings is the lag of every VG against every target, from status.
func (s *Server) lagReadings(ctx context.Context) ([]lagReading, error) {
	vgs, err := s.cat.ListVGs(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := s.status(ctx, vgs)
	if err != nil {
		return nil, err
	}
	var out []lagReading
	for _, v := range rep.VGs {
		for _, t := range v.Targets {
			out = append(out, lagReading{VGID: v.ID, VG: v.Name, To: t.To, Lag: t.LagSeconds, Backlog: t.BacklogBytes})
		}
	}
	return out, nil
}

// StartLagHistory starts the lag recorder, once, for the status page's
// chart; vmrepd calls it with --http. Shutdown stops it. (Not started by
// New: its minute timer would sit among the schedules' on a test's fake
// clock.)
func (s *Server) StartLagHistory() {
	s.lagOnce.Do(func() {
		r := newLagRecorder(filepath.Join(s.storeDir, lagHistoryFile), s.clock, s.lagReadings, s.log)
		ctx, stop := context.WithCancel(s.base)
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.run(ctx)
		}()
		s.lagMu.Lock()
		s.lag = r
		s.lagStop = func() { stop(); <-done }
		s.lagMu.Unlock()
	})
}

// lagHistory is the recorder, nil before StartLagHistory.
func (s *Server) lagHistory() *lagRecorder {
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	return s.lag
}

// stopLagHistory stops the recorder, if it runs, and waits for it.
func (s *Server) stopLagHistory() {
	s.lagMu.Lock()
	stop := s.lagStop
	s.lagStop = nil
	s.lagMu.Unlock()
	if stop != nil {
		stop()
	}
}
