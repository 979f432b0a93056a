package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/retention"
	"github.com/vmrep/vmrep/engine/volume"
)

// forgetVG answers POST /v1/vgs/{name}/forget.
func (s *Server) forgetVG(w http.ResponseWriter, r *http.Request) error {
	var req api.ForgetRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	p, err := policyOf(req)
	if err != nil {
		return err
	}
	res, err := s.Forget(r.Context(), r.PathValue("name"), p, req.DryRun)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// policyOf reads the request's rules; a bad or empty policy is CodeInvalid.
func policyOf(req api.ForgetRequest) (retention.Policy, error) {
	p := retention.Policy{Last: req.Last, Hourly: req.Hourly, Daily: req.Daily, Weekly: req.Weekly,
		Monthly: req.Monthly, Yearly: req.Yearly}
	if req.Within != "" {
		// ParsePolicy owns the duration grammar ("36h", "7d", "2w").
		w, err := retention.ParsePolicy("within=" + req.Within)
		if err != nil {
			return p, api.Errorf(api.CodeInvalid, "%v", err)
		}
		p.Within = w.Within
	}
	if err := p.Validate(); err != nil {
		return p, api.Errorf(api.CodeInvalid, "%v", err)
	}
	return p, nil
}

// Forget applies the retention policy p to the snapshots of the volume
// group vgName (a name or ID) and, unless dryRun, deletes those it
// removes. It is what `vmrep snapshot forget` runs, and what a schedule
// runner calls directly after each run.
//
// It never removes the newest snapshot, nor one that snapshotPins names
// (a replica or a materialized replica is at it, it was the last pushed to
// a server, or it is pinned): each of those is kept with the pin as a
// reason. It holds the VG's writer lock throughout, as snapshot delete
// does, so it fails with CodeBusy while a snapshot, replication or delete
// of the VG runs. Deleting removes records only; the blobs stay until gc.
// An error part-way leaves the snapshots deleted so far deleted (each
// delete is one record removal); the rest stay.
//
// Times are bucketed in the daemon's local time zone.
func (s *Server) Forget(ctx context.Context, vgName string, p retention.Policy, dryRun bool) (api.ForgetResult, error) {
	return s.forgetAt(ctx, vgName, p, dryRun, s.clock.Now())
}

// forgetAt is Forget at the time now, for a caller that runs on an
// injected clock (a schedule): now decides only which snapshots are in the
// future for the policy's Within.
func (s *Server) forgetAt(ctx context.Context, vgName string, p retention.Policy, dryRun bool, now time.Time) (api.ForgetResult, error) {
	if err := p.Validate(); err != nil {
		return api.ForgetResult{}, api.Errorf(api.CodeInvalid, "%v", err)
	}
	if err := volume.ValidateName("volume group", vgName); err != nil && !looksLikeVGID(vgName) {
		return api.ForgetResult{}, api.Errorf(api.CodeInvalid, "%v", err)
	}
	vg, err := s.cat.GetVG(ctx, vgName)
	if err != nil {
		return api.ForgetResult{}, err
	}
	unlock, e := s.writers.tryLock(vg.ID, vg.Name, "a forget")
	if e != nil {
		return api.ForgetResult{}, e
	}
	defer unlock()
	return s.forgetLocked(ctx, vg, p, dryRun, now)
}

// forgetLocked is forget for a caller that holds vg's writer lock: the
// route above, and a schedule's run after its snapshot. Buckets are days
// and hours of now's location (the daemon's local time on the real clock).
func (s *Server) forgetLocked(ctx context.Context, vg volume.VG, p retention.Policy, dryRun bool, now time.Time) (api.ForgetResult, error) {
	snaps, err := s.cat.ListSnapshots(ctx, vg.ID)
	if err != nil {
		return api.ForgetResult{}, err
	}
	bySeq := make(map[uint64]volume.Snapshot, len(snaps))
	in := make([]retention.Snapshot, len(snaps))
	for i, sn := range snaps {
		bySeq[sn.Seq] = sn
		in[i] = retention.Snapshot{Seq: sn.Seq, Time: sn.Created, Pins: s.snapshotPins(ctx, vg.Name, sn)}
	}
	keep, remove, err := retention.Apply(in, p, now, now.Location())
	if err != nil {
		return api.ForgetResult{}, api.Errorf(api.CodeInvalid, "%v", err)
	}
	res := api.ForgetResult{VG: vg.Name, Policy: p.String(), DryRun: dryRun,
		Keep: make([]api.ForgetDecision, len(keep)), Remove: make([]api.ForgetDecision, len(remove))}
	for i, d := range keep {
		res.Keep[i] = forgetDecision(bySeq[d.Snapshot.Seq], d.Reasons)
	}
	for i, d := range remove {
		res.Remove[i] = forgetDecision(bySeq[d.Snapshot.Seq], nil)
	}
	if dryRun {
		return res, nil
	}
	for i := range res.Remove {
		sn := bySeq[res.Remove[i].Seq]
		if err := s.cat.DeleteSnapshot(context.WithoutCancel(ctx), vg.ID, sn.Seq); err != nil {
			if errors.Is(err, volume.ErrNotFound) {
				continue // gone already: what forget wanted
			}
			return res, fmt.Errorf("forget %s: deleted %d of %d snapshots, then %s: %w", vg.Name, i, len(res.Remove), sn.Name(), err)
		}
		res.Remove[i].Removed = true
		s.log.Info("snapshot forgotten", "snapshot", sn.Name(), "id", sn.ID, "policy", res.Policy)
		if ctx.Err() != nil {
			return res, fmt.Errorf("forget %s: deleted %d of %d snapshots: %w", vg.Name, i+1, len(res.Remove), ctx.Err())
		}
	}
	return res, nil
}

func forgetDecision(sn volume.Snapshot, reasons []string) api.ForgetDecision {
	return api.ForgetDecision{Seq: sn.Seq, ID: sn.ID, Created: sn.Created, Reasons: reasons}
}

// pinSnapshot answers POST /v1/vgs/{name}/snapshots/{seq}/pin.
func (s *Server) pinSnapshot(w http.ResponseWriter, r *http.Request) error {
	var req api.PinRequest
	if r.ContentLength != 0 {
		if e := decodeBody(w, r, &req); e != nil {
			return e
		}
	}
	_, sn, err := s.lookupSnapshot(r)
	if err != nil {
		return err
	}
	e, err := s.pins.pin(sn, req.Note, time.Now())
	if err != nil {
		return err
	}
	s.log.Info("snapshot pinned", "snapshot", sn.Name(), "id", sn.ID, "note", req.Note)
	out := toAPISnapshot(sn)
	out.Pin = e.toAPI()
	writeJSON(w, http.StatusOK, out)
	return nil
}

// unpinSnapshot answers DELETE /v1/vgs/{name}/snapshots/{seq}/pin; a
// snapshot that is not pinned is CodeNotFound.
func (s *Server) unpinSnapshot(w http.ResponseWriter, r *http.Request) error {
	_, sn, err := s.lookupSnapshot(r)
	if err != nil {
		return err
	}
	had, err := s.pins.unpin(sn)
	if err != nil {
		return err
	}
	if !had {
		return api.Errorf(api.CodeNotFound, "snapshot %s is not pinned", sn.Name())
	}
	s.log.Info("snapshot unpinned", "snapshot", sn.Name(), "id", sn.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// withPin is toAPISnapshot with the snapshot's explicit pin, for list and
// show.
func (s *Server) withPin(sn volume.Snapshot) api.Snapshot {
	out := toAPISnapshot(sn)
	if e, ok := s.pins.lookup(sn); ok {
		out.Pin = e.toAPI()
	}
	return out
}
