package daemon

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/volume"
)

// setSchedule creates or replaces the schedule of {name}. Replacing keeps
// the record of past runs.
func (s *Server) setSchedule(w http.ResponseWriter, r *http.Request) error {
	var req api.ScheduleRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	vg, err := s.lookupVG(r)
	if err != nil {
		return err
	}
	every, keep, e := parseScheduleSpec(req)
	if e != nil {
		return e
	}
	if req.DeltaDir != "" {
		if e := s.checkDir("delta directory", req.DeltaDir, true); e != nil {
			return e
		}
	}
	sc := s.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	now := sc.clock.Now()
	ent, ok := sc.mu.entries[vg.ID]
	if !ok {
		rec := &scheduleRecord{VGID: vg.ID, VG: vg.Name, Created: now.UTC()}
		rec.Spec, rec.every, rec.keep, rec.Anchor = req, every, keep, scheduleAnchor(now, req.At)
		rec.RPO.From = now.UTC()
		ent = sc.startLocked(rec, now)
	} else {
		rec := ent.rec
		if rec.Spec.DeltaDir != req.DeltaDir {
			rec.Status.LastSnapshot = "" // a new directory starts with a base
		}
		if rec.Spec.DeltaDir != req.DeltaDir || rec.Spec.ReplicateTo != req.ReplicateTo || rec.RPO.From.IsZero() {
			// A new destination holds nothing yet; the same one set again
			// goes on counting (setting it again does not clear a breach).
			rec.RPO.Delivered, rec.RPO.From = time.Time{}, now.UTC()
		}
		rec.VG, rec.Spec, rec.every, rec.keep, rec.Anchor = vg.Name, req, every, keep, scheduleAnchor(now, req.At)
		ent.lastSlot = now
		sc.nextLocked(ent)
		sc.checkRPOLocked(ent)
		ent.wakeLocked()
	}
	if err := sc.saveAllLocked(); err != nil {
		return err
	}
	s.log.Info("schedule set", "vg", vg.Name, "every", every, "at", req.At, "to", req.ReplicateTo, "delta_dir", req.DeltaDir, "keep", req.Keep, "rpo", req.RPO)
	writeJSON(w, http.StatusOK, sc.viewLocked(ent))
	return nil
}

// lookupScheduleLocked finds the schedule {name} names: by the name or ID
// its VG had when it was set, so that the schedule of a VG deleted since
// can still be shown and deleted; else by the VG as it is now (renamed).
// The caller holds sc.mu.
func (s *Server) lookupScheduleLocked(r *http.Request) (*scheduleEntry, error) {
	name := r.PathValue("name")
	for _, ent := range s.sched.mu.entries {
		if ent.rec.VG == name || ent.rec.VGID == name {
			return ent, nil
		}
	}
	vg, err := s.lookupVG(r)
	if err != nil {
		return nil, err
	}
	ent, ok := s.sched.mu.entries[vg.ID]
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "volume group %s has no schedule", vg.Name)
	}
	return ent, nil
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) error {
	sc := s.sched
	sc.mu.Lock()
	out := make([]api.Schedule, 0, len(sc.mu.entries))
	for _, ent := range sc.mu.entries {
		out = append(out, sc.viewLocked(ent))
	}
	sc.mu.Unlock()
	slices.SortFunc(out, func(a, b api.Schedule) int { return strings.Compare(a.VG, b.VG) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) error {
	return s.withSchedule(w, r, nil)
}

func (s *Server) pauseSchedule(w http.ResponseWriter, r *http.Request) error {
	return s.withSchedule(w, r, func(ent *scheduleEntry) { ent.rec.Paused = true })
}

// resumeSchedule resumes at the next slot from now: the slots missed while
// paused are not caught up.
func (s *Server) resumeSchedule(w http.ResponseWriter, r *http.Request) error {
	if vg, err := s.lookupVG(r); err == nil {
		if rec, cut := s.cutovers.get(vg.ID); cut {
			return api.Errorf(api.CodeConflict, "%s was cut over to %s (%s): its schedule stays stopped; delete it", vg.Name, rec.Replica, rec.Snapshot)
		}
	}
	return s.withSchedule(w, r, func(ent *scheduleEntry) {
		if ent.rec.Paused {
			ent.rec.Paused, ent.lastSlot = false, s.sched.clock.Now()
		}
	})
}

// withSchedule answers the schedule of {name} after change (nil: none),
// which runs under the scheduler's lock and is recorded.
func (s *Server) withSchedule(w http.ResponseWriter, r *http.Request, change func(*scheduleEntry)) error {
	sc := s.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	ent, err := s.lookupScheduleLocked(r)
	if err != nil {
		return err
	}
	vg := volume.VG{ID: ent.rec.VGID, Name: ent.rec.VG}
	if change != nil {
		change(ent)
		sc.nextLocked(ent)
		ent.wakeLocked()
		if err := sc.saveAllLocked(); err != nil {
			return err
		}
		s.log.Info("schedule changed", "vg", vg.Name, "paused", ent.rec.Paused)
	}
	writeJSON(w, http.StatusOK, sc.viewLocked(ent))
	return nil
}

// deleteSchedule ends the schedule of {name}; a run in progress finishes
// as a job.
func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	sc := s.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	ent, err := s.lookupScheduleLocked(r)
	if err != nil {
		return err
	}
	vg := volume.VG{ID: ent.rec.VGID, Name: ent.rec.VG}
	ent.cancel()
	if ent.rpoTimer != nil {
		ent.rpoTimer.Stop()
	}
	delete(sc.mu.entries, vg.ID)
	if err := sc.saveAllLocked(); err != nil {
		return err
	}
	s.log.Info("schedule deleted", "vg", vg.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pins says why sn must be kept for a schedule: it is the base of the
// next delta a schedule exports.
func (sc *scheduler) pins(sn volume.Snapshot) []string {
	if sc == nil {
		return nil
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	var why []string
	for _, ent := range sc.mu.entries {
		if ent.rec.VGID == sn.VGID && ent.rec.Spec.DeltaDir != "" && ent.rec.Status.LastSnapshot == sn.Name() {
			why = append(why, "it is the base of the next delta of the schedule of "+ent.rec.VG)
		}
	}
	return why
}

// statusOf is the schedule of the VG with ID vgID as `vmrep status` shows
// it; false when the VG has none.
func (sc *scheduler) statusOf(vgID string) (api.StatusSchedule, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	ent, ok := sc.mu.entries[vgID]
	if !ok {
		return api.StatusSchedule{}, false
	}
	v := ent.rec.view()
	out := api.StatusSchedule{Every: v.Every, Paused: v.Paused, NextRun: v.Status.NextRun,
		LastRun: v.Status.LastRun, LastResult: v.Status.LastResult}
	if v.Status.LastResult == api.RunFailed {
		out.LastError = v.Status.LastError // schedule show keeps it after good runs too
	}
	if st := sc.rpoStateLocked(ent.rec, sc.clock.Now()); st != nil {
		out.RPOSeconds, out.RPOLagSeconds, out.RPOBreached, out.BreachedSince = st.RPOSeconds, st.LagSeconds, st.Breached, st.BreachedSince
	}
	return out, true
}
