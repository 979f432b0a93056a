package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/retention"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/bandwidth"
)

// runScheduled is one run of a schedule: a snapshot of the VG (hooks
// included), then its replication, or the delta since the previous run's
// snapshot (lastSnap) written into the delta directory, then retention.
// Each step takes the code path of its command. taken is told the new
// snapshot once it is sent on, so that it becomes the next delta's base.
func (s *Server) runScheduled(ctx context.Context, j *job, vgID string, spec api.ScheduleRequest, keep *retention.Policy,
	lastSnap string, taken func(snap string, created time.Time)) (api.ScheduleRunResult, error) {
	var res api.ScheduleRunResult
	vg, err := s.cat.GetVG(ctx, vgID)
	if err != nil {
		return res, fmt.Errorf("the schedule's volume group (delete the schedule if the group is gone): %w", err)
	}
	if e := s.checkVGSources(vg); e != nil {
		return res, e
	}
	unlock, e := s.writers.tryLock(vg.ID, vg.Name, "a scheduled snapshot")
	if e != nil {
		return res, e
	}
	sn, err := s.takeSnapshot(ctx, j, vg, false)
	unlock()
	if err != nil {
		return res, err
	}
	res.Snapshot = sn.Name()
	switch {
	case spec.ReplicateTo != "":
		if err := s.scheduledReplicate(ctx, j, vg, sn, spec, &res); err != nil {
			return res, err
		}
	case spec.DeltaDir != "":
		if err := s.scheduledDelta(ctx, j, sn, spec.DeltaDir, lastSnap, &res); err != nil {
			return res, err
		}
	}
	taken(sn.Name(), sn.Created)
	if keep == nil {
		return res, nil
	}
	j.progress("retention", 0, 0, "applying keep "+keep.String())
	unlock, e = s.writers.tryLock(vg.ID, vg.Name, "a schedule's retention")
	if e != nil {
		return res, e
	}
	defer unlock()
	res.Removed, err = s.applyRetention(ctx, vg, *keep)
	s.sched.addRemoved(vg.ID, len(res.Removed))
	return res, err
}

func (s *Server) scheduledReplicate(ctx context.Context, j *job, vg volume.VG, sn volume.Snapshot, spec api.ScheduleRequest, res *api.ScheduleRunResult) error {
	rm, e := newRemote(api.ReplicateRequest{Snapshot: sn.Name(), To: spec.ReplicateTo, Token: spec.Token,
		CAPEM: spec.CAPEM, ServerName: spec.ServerName, Materialize: spec.Materialize})
	if e != nil {
		return e
	}
	defer rm.Close()
	var err error
	opts := ReplicateOptions{Materialize: spec.Materialize}
	if spec.Limit != "" {
		// Checked when the schedule was set; a stored rate that no longer
		// parses fails the run rather than running unlimited.
		if opts.Limit, err = bandwidth.ParseRate(spec.Limit); err != nil {
			return fmt.Errorf("schedule limit: %w", err)
		}
	}
	out, err := s.runReplicate(ctx, j, rm, vg, sn, opts)
	if err != nil {
		return err
	}
	res.Replicate = &out
	return nil
}

// scheduledDelta exports lastSnap..sn into dir, as `delta export` does. The
// first run has no base: its snapshot becomes the base of the next. A
// base deleted since (by hand, with --force) fails this run once; the
// next run exports from sn.
func (s *Server) scheduledDelta(ctx context.Context, j *job, sn volume.Snapshot, dir, lastSnap string, res *api.ScheduleRunResult) error {
	if lastSnap == "" {
		j.progress("delta", 0, 0, "first run: "+sn.Name()+" is the base of the next delta")
		return nil
	}
	_, base, err := s.cat.Resolve(ctx, lastSnap)
	if err != nil || base.VGID != sn.VGID {
		return fmt.Errorf("delta base %s of the schedule is gone (%v); the next run exports from %s", lastSnap, err, sn.Name())
	}
	out := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.vmdelta", sn.VGName, base.Seq, sn.Seq))
	if e := s.checkOutput(out); e != nil {
		return e
	}
	if e := refuseOverwrite("delta output", out); e != nil {
		return e
	}
	r, err := s.runExportDelta(ctx, j, base, sn, api.DeltaExportRequest{Base: base.Name(), Target: sn.Name(), Output: out})
	if err != nil {
		return err
	}
	d := r.(api.DeltaExportResult)
	res.Delta = &d
	return nil
}
