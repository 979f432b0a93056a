package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/retention"
	"github.com/vmrep/vmrep/internal/bandwidth"
	"github.com/vmrep/vmrep/internal/durable"
)

// schedulesFile holds the schedules of the store's volume groups and how
// their runs went. It holds replication tokens: mode 0600, never shown.
const schedulesFile = "schedules.json"

// Bounds on a schedule's interval: a run a minute is already more than a
// snapshot with its hooks should be asked for.
const (
	minScheduleEvery = time.Minute
	maxScheduleEvery = 366 * 24 * time.Hour
)

// scheduleRecord is one schedule as schedulesFile keeps it.
type scheduleRecord struct {
	VGID    string              `json:"vg_id"`
	VG      string              `json:"vg"`
	Spec    api.ScheduleRequest `json:"spec"`
	Anchor  time.Time           `json:"anchor"` // a slot: runs are due at Anchor + k*Every
	Paused  bool                `json:"paused"`
	Created time.Time           `json:"created"`
	Status  api.ScheduleStatus  `json:"status"`
	RPO     rpoRecord           `json:"rpo,omitzero"` // see schedule_rpo.go; absent in older records
	every   time.Duration       // Spec.Every, parsed
	keep    *retention.Policy   // Spec.Keep, parsed; nil keeps all
}

// parseScheduleSpec checks a request and returns its interval and policy.
func parseScheduleSpec(req api.ScheduleRequest) (time.Duration, *retention.Policy, *api.Error) {
	every, err := time.ParseDuration(req.Every)
	if err != nil || every < minScheduleEvery || every > maxScheduleEvery {
		return 0, nil, api.Errorf(api.CodeInvalid, "every %q: want a duration from %v to %v, e.g. 15m or 24h", req.Every, minScheduleEvery, maxScheduleEvery)
	}
	if req.At != "" {
		if _, err := time.Parse("15:04", req.At); err != nil {
			return 0, nil, api.Errorf(api.CodeInvalid, "at %q: want HH:MM (24-hour local time)", req.At)
		}
	}
	switch {
	case req.ReplicateTo != "" && req.DeltaDir != "":
		return 0, nil, api.Errorf(api.CodeInvalid, "a schedule replicates to a server or exports deltas into a directory, not both")
	case req.ReplicateTo == "" && (req.Token != "" || req.CAPEM != "" || req.ServerName != "" || req.Materialize != "" || req.Limit != ""):
		return 0, nil, api.Errorf(api.CodeInvalid, "token, CA, server name, materialize and limit need a replication target")
	case req.ReplicateTo != "":
		rm, e := newRemote(api.ReplicateRequest{To: req.ReplicateTo, Token: req.Token, CAPEM: req.CAPEM, ServerName: req.ServerName})
		if e != nil {
			return 0, nil, e
		}
		rm.Close() // built to check the request only
	}
	if e := checkRPO(req); e != nil {
		return 0, nil, e
	}
	if req.Limit != "" {
		if _, err := bandwidth.ParseRate(req.Limit); err != nil {
			return 0, nil, api.Errorf(api.CodeInvalid, "limit: %v", err)
		}
	}
	var keep *retention.Policy
	if req.Keep != "" {
		p, err := retention.ParsePolicy(req.Keep)
		if err != nil {
			return 0, nil, api.Errorf(api.CodeInvalid, "keep: %v", err)
		}
		keep = &p
	}
	return every, keep, nil
}

// scheduleAnchor is the slot the runs of a schedule set at now are counted
// from: today at HH:MM, local time (the clock's location).
func scheduleAnchor(now time.Time, at string) time.Time {
	h, m := 0, 0
	if t, err := time.Parse("15:04", at); err == nil {
		h, m = t.Hour(), t.Minute()
	}
	y, mo, d := now.Date()
	return time.Date(y, mo, d, h, m, 0, 0, now.Location())
}

// nextSlot returns the first slot anchor + k*every strictly after t.
func nextSlot(anchor time.Time, every time.Duration, t time.Time) time.Time {
	k := t.Sub(anchor) / every
	s := anchor.Add(k * every)
	for !s.After(t) {
		s = s.Add(every)
	}
	for s.Sub(t) > every {
		s = s.Add(-every)
	}
	return s
}

// retryBackoff is the wait before the retry of a run that failed n times
// in a row: 1m, 2m, 4m ..., at most every.
func retryBackoff(n int, every time.Duration) time.Duration {
	d := time.Minute << min(max(n-1, 0), 20)
	return min(d, every)
}

// view is the schedule as the API shows it, without its secrets.
func (rec *scheduleRecord) view() api.Schedule {
	at := rec.Spec.At
	if at == "" {
		at = "00:00"
	}
	return api.Schedule{VG: rec.VG, Every: rec.every.String(), At: at, ReplicateTo: rec.Spec.ReplicateTo,
		Materialize: rec.Spec.Materialize, HasCA: rec.Spec.CAPEM != "", DeltaDir: rec.Spec.DeltaDir,
		Keep: rec.Spec.Keep, Limit: rec.Spec.Limit, Paused: rec.Paused, Created: rec.Created, Status: rec.Status,
		RPO: rec.Spec.RPO, OnRPOBreach: rec.Spec.OnRPOBreach}
}

// loadSchedules reads schedulesFile. A damaged file is moved aside, not
// overwritten, and the daemon starts without schedules.
func loadSchedules(path string) ([]*scheduleRecord, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var recs []*scheduleRecord
	if err == nil {
		err = json.Unmarshal(b, &recs)
	}
	for _, rec := range recs {
		if err != nil {
			break
		}
		var e *api.Error
		if rec.every, rec.keep, e = parseScheduleSpec(rec.Spec); e != nil {
			err = fmt.Errorf("schedule of %s: %v", rec.VG, e.Message)
		}
	}
	if err != nil {
		aside := path + ".damaged-" + time.Now().UTC().Format("20060102T150405")
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("reading %s: %w (and moving it aside: %v)", path, err, rerr)
		}
		return nil, fmt.Errorf("reading %s: %w; moved it to %s", path, err, filepath.Base(aside))
	}
	return recs, nil
}

// saveSchedules writes recs through (temp file, fsync, rename).
func saveSchedules(path string, recs []*scheduleRecord) error {
	recs = slices.Clone(recs)
	slices.SortFunc(recs, func(a, b *scheduleRecord) int { return strings.Compare(a.VG, b.VG) })
	if recs == nil {
		recs = []*scheduleRecord{}
	}
	b, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(path, append(b, '\n'), 0o600)
}
