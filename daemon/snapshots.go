package daemon

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/capture"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/volume"
)

func (s *Server) listSnapshots(w http.ResponseWriter, r *http.Request) {
	vg, ok := s.lookupVG(w, r)
	if !ok {
		return
	}
	snaps, err := s.cat.ListSnapshots(r.Context(), vg.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]api.Snapshot, len(snaps))
	for i, sn := range snaps {
		out[i] = toAPISnapshot(sn)
	}
	writeJSON(w, http.StatusOK, out)
}

// lookupSnapshot finds the snapshot named by {name} and {seq} (a number
// or "latest", read with the one grammar of volume.ParseRef), answering
// the error itself.
func (s *Server) lookupSnapshot(w http.ResponseWriter, r *http.Request) (volume.VG, volume.Snapshot, bool) {
	ref, err := volume.ParseRef(r.PathValue("name") + "@" + r.PathValue("seq"))
	if err != nil {
		writeError(w, api.Errorf(api.CodeInvalid, "%v", err))
		return volume.VG{}, volume.Snapshot{}, false
	}
	vg, sn, err := s.cat.ResolveRef(r.Context(), ref)
	if err != nil {
		s.fail(w, r, err)
		return volume.VG{}, volume.Snapshot{}, false
	}
	return vg, sn, true
}

func (s *Server) getSnapshot(w http.ResponseWriter, r *http.Request) {
	if _, sn, ok := s.lookupSnapshot(w, r); ok {
		writeJSON(w, http.StatusOK, toAPISnapshot(sn))
	}
}

// deleteSnapshot deletes the one snapshot {seq} names. A snapshot a
// replica or a replication target builds on (snapshotPins) is deleted only
// with ?force=true.
func (s *Server) deleteSnapshot(w http.ResponseWriter, r *http.Request) {
	vg, sn, ok := s.lookupSnapshot(w, r)
	if !ok {
		return
	}
	force := r.URL.Query().Get("force") == "true"
	unlock, e := s.writers.tryLock(vg.ID, vg.Name, "a snapshot delete")
	if e != nil {
		writeError(w, e)
		return
	}
	defer unlock()
	if why := s.snapshotPins(r.Context(), vg.Name, sn); len(why) > 0 && !force {
		writeError(w, api.Errorf(api.CodeConflict, "snapshot %s is still needed: %s; delete it anyway with --force",
			sn.Name(), pinText(why)))
		return
	}
	if err := s.cat.DeleteSnapshot(r.Context(), vg.ID, sn.Seq); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("snapshot deleted", "snapshot", sn.Name(), "id", sn.ID, "force", force)
	w.WriteHeader(http.StatusNoContent)
}

// createSnapshot starts a snapshot job; the VG's writer lock is held until
// the job ends.
func (s *Server) createSnapshot(w http.ResponseWriter, r *http.Request) {
	var req api.CreateSnapshotRequest
	if r.ContentLength != 0 {
		if e := decodeBody(w, r, &req); e != nil {
			writeError(w, e)
			return
		}
	}
	vg, ok := s.lookupVG(w, r)
	if !ok {
		return
	}
	for _, v := range vg.Volumes {
		if _, e := s.checkSource("volume "+v.Name, v.Source); e != nil {
			writeError(w, e)
			return
		}
		// A file truncated to nothing since the VG was created is far more
		// likely a mistake than a disk that lost all its data.
		if fi, err := os.Stat(v.Source); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			writeError(w, api.Errorf(api.CodeInvalid, "volume %s: %s is empty (0 bytes); a volume needs data", v.Name, v.Source))
			return
		}
	}
	unlock, e := s.writers.tryLock(vg.ID, vg.Name, "a snapshot")
	if e != nil {
		writeError(w, e)
		return
	}
	s.startJob(w, r, api.JobSnapshot, vg.Name, func(ctx context.Context, j *job) (any, error) {
		return s.runSnapshot(ctx, j, vg, req.Full)
	}, unlock)
}

func (s *Server) runSnapshot(ctx context.Context, j *job, vg volume.VG, full bool) (any, error) {
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
		opts := ingest.SnapshotOptions{
			Progress: func(p ingest.SnapshotProgress) {
				j.progress("ingest", p.VGDone, p.VGTotal, "volume "+p.Volume)
			},
			Pages: s.store,
			Full:  full,
			Log:   plan.Log,
		}
		w := s.store.NewWriter()
		defer w.Close()
		var err error
		sn, _, err = s.ingest.Snapshot(ctx, w, s.cat, vg, paths, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	var total int64
	for _, v := range sn.Volumes {
		total += v.Size
	}
	j.progress("ingest", total, total, "recorded "+sn.Name())
	return toAPISnapshot(sn), nil
}

// resolveRef finds the snapshot a "vg@seq" reference names, answering the
// error itself; what says which argument it was.
func (s *Server) resolveRef(w http.ResponseWriter, r *http.Request, what, ref string) (volume.VG, volume.Snapshot, bool) {
	if _, err := volume.ParseRef(ref); err != nil {
		writeError(w, api.Errorf(api.CodeInvalid, "%s: %v", what, err))
		return volume.VG{}, volume.Snapshot{}, false
	}
	vg, sn, err := s.cat.Resolve(r.Context(), ref)
	if err != nil {
		s.fail(w, r, err)
		return volume.VG{}, volume.Snapshot{}, false
	}
	return vg, sn, true
}

// resolveVolume resolves a snapshot reference and one of its volumes, by
// name or ID; an empty name picks the boot volume.
func (s *Server) resolveVolume(w http.ResponseWriter, r *http.Request, ref, name string) (volume.VG, volume.Snapshot, volume.VolumeSnapshot, bool) {
	vg, sn, ok := s.resolveRef(w, r, "snapshot", ref)
	if !ok {
		return vg, sn, volume.VolumeSnapshot{}, false
	}
	if name == "" {
		name = vg.Boot().Name
	}
	vs, found := sn.Volume(name)
	if !found {
		writeError(w, api.Errorf(api.CodeNotFound, "snapshot %s has no volume %q", sn.Name(), name))
		return vg, sn, vs, false
	}
	return vg, sn, vs, true
}

// startVolumeWrite starts a job of kind that writes one volume of the
// snapshot ref to out, a path the daemon opens itself: it resolves the
// volume, checks out, and hands the loaded manifest to write.
func (s *Server) startVolumeWrite(w http.ResponseWriter, r *http.Request, kind, ref, vol, out string,
	write func(ctx context.Context, j *job, sn volume.Snapshot, vs volume.VolumeSnapshot, m *volume.Manifest) (any, error)) {
	_, sn, vs, ok := s.resolveVolume(w, r, ref, vol)
	if !ok {
		return
	}
	if e := s.checkOutput(out); e != nil {
		writeError(w, e)
		return
	}
	s.startJob(w, r, kind, fmt.Sprintf("%s volume %s", sn.Name(), vs.Name), func(ctx context.Context, j *job) (any, error) {
		j.progress("load manifest", 0, vs.Size, "")
		m, err := volume.LoadManifest(ctx, s.store, vs.Manifest)
		if err != nil {
			return nil, fmt.Errorf("%s %s volume %q: %w", kind, sn.Name(), vs.Name, err)
		}
		return write(ctx, j, sn, vs, m)
	}, nil)
}

// resolvePair resolves a base and a target snapshot of one volume group.
func (s *Server) resolvePair(w http.ResponseWriter, r *http.Request, base, target string) (volume.Snapshot, volume.Snapshot, bool) {
	_, b, ok := s.resolveRef(w, r, "base", base)
	if !ok {
		return volume.Snapshot{}, volume.Snapshot{}, false
	}
	_, t, ok := s.resolveRef(w, r, "target", target)
	if !ok {
		return volume.Snapshot{}, volume.Snapshot{}, false
	}
	if b.VGID != t.VGID {
		writeError(w, api.Errorf(api.CodeInvalid, "%s and %s are snapshots of different volume groups", b.Name(), t.Name()))
		return volume.Snapshot{}, volume.Snapshot{}, false
	}
	if b.ID == t.ID {
		writeError(w, api.Errorf(api.CodeInvalid, "%s and %s are the same snapshot", base, target))
		return volume.Snapshot{}, volume.Snapshot{}, false
	}
	return b, t, true
}
