package daemon

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/capture"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

func (s *Server) listSnapshots(w http.ResponseWriter, r *http.Request) error {
	vg, err := s.lookupVG(r)
	if err != nil {
		return err
	}
	snaps, err := s.cat.ListSnapshots(r.Context(), vg.ID)
	if err != nil {
		return err
	}
	out := make([]api.Snapshot, len(snaps))
	for i, sn := range snaps {
		out[i] = s.withPin(sn)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// lookupSnapshot finds the snapshot named by {name} and {seq} (a number
// or "latest", read with the one grammar of volume.ParseRef), answering
// the error itself.
func (s *Server) lookupSnapshot(r *http.Request) (volume.VG, volume.Snapshot, error) {
	ref, err := volume.ParseRef(r.PathValue("name") + "@" + r.PathValue("seq"))
	if err != nil {
		return volume.VG{}, volume.Snapshot{}, api.Errorf(api.CodeInvalid, "%v", err)
	}
	vg, sn, err := s.cat.ResolveRef(r.Context(), ref)
	if err != nil {
		return volume.VG{}, volume.Snapshot{}, err
	}
	return vg, sn, nil
}

func (s *Server) getSnapshot(w http.ResponseWriter, r *http.Request) error {
	_, sn, err := s.lookupSnapshot(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.withPin(sn))
	return nil
}

// deleteSnapshot deletes the one snapshot {seq} names. A snapshot a
// replica or a replication target builds on, or one pinned with snapshot
// pin (snapshotPins), is deleted only with ?force=true; its pin goes with
// it.
func (s *Server) deleteSnapshot(w http.ResponseWriter, r *http.Request) error {
	vg, sn, err := s.lookupSnapshot(r)
	if err != nil {
		return err
	}
	force := r.URL.Query().Get("force") == "true"
	unlock, e := s.writers.tryLock(vg.ID, vg.Name, "a snapshot delete")
	if e != nil {
		return e
	}
	defer unlock()
	if err := s.removeSnapshot(r.Context(), vg, sn, force); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// removeSnapshot deletes sn unless a pin (snapshotPins) holds it and
// force is not given: what `snapshot delete` and a schedule's retention
// both do. The caller holds the VG's writer lock.
func (s *Server) removeSnapshot(ctx context.Context, vg volume.VG, sn volume.Snapshot, force bool) error {
	if why := s.snapshotPins(ctx, vg.Name, sn); len(why) > 0 && !force {
		return api.Errorf(api.CodeConflict, "snapshot %s is still needed: %s; delete it anyway with --force",
			sn.Name(), pinText(why))
	}
	if err := s.cat.DeleteSnapshot(ctx, vg.ID, sn.Seq); err != nil {
		return err
	}
	if _, err := s.pins.unpin(sn); err != nil {
		// The pin names a snapshot ID no other snapshot has: a stale one
		// pins nothing.
		s.log.Warn("removing the pin of a deleted snapshot", "snapshot", sn.Name(), "err", err)
	}
	s.log.Info("snapshot deleted", "snapshot", sn.Name(), "id", sn.ID, "force", force)
	return nil
}

// createSnapshot starts a snapshot job; the VG's writer lock is held until
// the job ends.
func (s *Server) createSnapshot(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateSnapshotRequest
	if r.ContentLength != 0 {
		if e := decodeBody(w, r, &req); e != nil {
			return e
		}
	}
	vg, err := s.lookupVG(r)
	if err != nil {
		return err
	}
	if e := s.checkVGSources(vg); e != nil {
		return e
	}
	unlock, e := s.writers.tryLock(vg.ID, vg.Name, "a snapshot")
	if e != nil {
		return e
	}
	return s.startJob(w, r, api.JobSnapshot, vg.Name, func(ctx context.Context, j *job) (any, error) {
		return s.runSnapshot(ctx, j, vg, req.Full)
	}, unlock)
}

// checkVGSources checks the sources of vg's volumes before a snapshot.
func (s *Server) checkVGSources(vg volume.VG) *api.Error {
	for _, v := range vg.Volumes {
		if source.IsNBD(v.Source) {
			continue // its server answers for it when the snapshot connects
		}
		if _, e := s.checkSource("volume "+v.Name, v.Source); e != nil {
			return e
		}
		// A file truncated to nothing since the VG was created is far more
		// likely a mistake than a disk that lost all its data.
		if fi, err := os.Stat(v.Source); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			return api.Errorf(api.CodeInvalid, "volume %s: %s is empty (0 bytes); a volume needs data", v.Name, v.Source)
		}
	}
	return nil
}

func (s *Server) runSnapshot(ctx context.Context, j *job, vg volume.VG, full bool) (any, error) {
	sn, err := s.takeSnapshot(ctx, j, vg, full)
	if err != nil {
		return nil, err
	}
	return toAPISnapshot(sn), nil
}

// takeSnapshot captures vg (hooks, LVM snapshots) and records a snapshot,
// dated by the server's clock. The caller holds the VG's writer lock.
func (s *Server) takeSnapshot(ctx context.Context, j *job, vg volume.VG, full bool) (volume.Snapshot, error) {
	plan := capture.Plan{VG: vg.Name, VGID: vg.ID, Hooks: vg.Hooks, LVM: vg.LVMSnapshot,
		Log: func(line string) { s.log.Info("capture", "vg", vg.Name, "job", j.id, "msg", line) }}
	for _, v := range vg.Volumes {
		plan.Sources = append(plan.Sources, v.Source)
	}
	if vg.LVMSnapshot != nil {
		plan.Snapshots = s.lvm
	}
	var sn volume.Snapshot
	err := capture.Run(ctx, plan, func(ctx context.Context, paths []string) error {
		w := s.store.NewWriter()
		defer w.Close()
		meter := s.metrics.ingestMeter(vg.Name, w)
		opts := ingest.SnapshotOptions{
			Progress: func(p ingest.SnapshotProgress) {
				j.progress("ingest", p.VGDone, p.VGTotal, "volume "+p.Volume)
				meter.progress(p.Index, p.ReadBytes, p.NewBytes)
			},
			Pages: s.store,
			Full:  full,
			Log:   plan.Log,
			Now:   s.clock.Now,
		}
		var err error
		var stats []ingest.Stats
		sn, stats, err = s.ingest.Snapshot(ctx, w, s.cat, vg, paths, opts)
		if err == nil {
			meter.done(sn, stats)
		}
		return err
	})
	if err != nil {
		return volume.Snapshot{}, err
	}
	var total int64
	for _, v := range sn.Volumes {
		total += v.Size
	}
	j.progress("ingest", total, total, "recorded "+sn.Name())
	return sn, nil
}

// resolveRef finds the snapshot a "vg@seq" reference names, answering the
// error itself; what says which argument it was.
func (s *Server) resolveRef(r *http.Request, what, ref string) (volume.VG, volume.Snapshot, error) {
	if _, err := volume.ParseRef(ref); err != nil {
		return volume.VG{}, volume.Snapshot{}, api.Errorf(api.CodeInvalid, "%s: %v", what, err)
	}
	vg, sn, err := s.cat.Resolve(r.Context(), ref)
	if err != nil {
		return volume.VG{}, volume.Snapshot{}, err
	}
	return vg, sn, nil
}

// resolveVolume resolves a snapshot reference and one of its volumes, by
// name or ID; an empty name picks the boot volume.
func (s *Server) resolveVolume(r *http.Request, ref, name string) (volume.VG, volume.Snapshot, volume.VolumeSnapshot, error) {
	vg, sn, err := s.resolveRef(r, "snapshot", ref)
	if err != nil {
		return vg, sn, volume.VolumeSnapshot{}, err
	}
	if name == "" {
		name = vg.Boot().Name
	}
	vs, found := sn.Volume(name)
	if !found {
		return vg, sn, vs, api.Errorf(api.CodeNotFound, "snapshot %s has no volume %q", sn.Name(), name)
	}
	return vg, sn, vs, nil
}

// startVolumeWrite starts a job of kind that writes one volume of the
// snapshot ref to out, a path the daemon opens itself: it resolves the
// volume, checks out, and hands the loaded manifest to write.
func (s *Server) startVolumeWrite(w http.ResponseWriter, r *http.Request, kind, ref, vol, out string,
	write func(ctx context.Context, j *job, sn volume.Snapshot, vs volume.VolumeSnapshot, m *volume.Manifest) (any, error)) error {
	_, sn, vs, err := s.resolveVolume(r, ref, vol)
	if err != nil {
		return err
	}
	if e := readable(sn); e != nil {
		return e
	}
	if e := s.checkOutput(out); e != nil {
		return e
	}
	return s.startJob(w, r, kind, fmt.Sprintf("%s volume %s", sn.Name(), vs.Name), func(ctx context.Context, j *job) (any, error) {
		j.progress("load manifest", 0, vs.Size, "")
		m, err := volume.LoadManifest(ctx, s.store, vs.Manifest)
		if err != nil {
			return nil, fmt.Errorf("%s %s volume %q: %w", kind, sn.Name(), vs.Name, err)
		}
		return write(ctx, j, sn, vs, m)
	}, nil)
}

// readable refuses to read the contents of a snapshot its source sealed
// (replicate --encrypt-for): this daemon holds no key for it, and its
// manifests name sealed chunks. Only a materialize that presents the key
// writes it out.
func readable(sn volume.Snapshot) *api.Error {
	if fp := sn.Sealed(); fp != "" {
		return api.Errorf(api.CodeInvalid, "%s was sealed by its source for a tenancy whose key this daemon does not hold (%s); only a replicate --materialize with that key writes it out", sn.Name(), fp)
	}
	return nil
}

// resolvePair resolves a base and a target snapshot of one volume group.
func (s *Server) resolvePair(r *http.Request, base, target string) (volume.Snapshot, volume.Snapshot, error) {
	_, b, err := s.resolveRef(r, "base", base)
	if err != nil {
		return volume.Snapshot{}, volume.Snapshot{}, err
	}
	_, t, err := s.resolveRef(r, "target", target)
	if err != nil {
		return volume.Snapshot{}, volume.Snapshot{}, err
	}
	if b.VGID != t.VGID {
		return volume.Snapshot{}, volume.Snapshot{}, api.Errorf(api.CodeInvalid, "%s and %s are snapshots of different volume groups", b.Name(), t.Name())
	}
	for _, sn := range []volume.Snapshot{b, t} {
		if e := readable(sn); e != nil {
			return volume.Snapshot{}, volume.Snapshot{}, e
		}
	}
	if b.ID == t.ID {
		return volume.Snapshot{}, volume.Snapshot{}, api.Errorf(api.CodeInvalid, "%s and %s are the same snapshot", base, target)
	}
	return b, t, nil
}
