package daemon

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/apiconv"
)

// materialize writes a replicated snapshot into block storage on this
// server: a replica directory under the replica root, one sparse file per
// volume (or, through a symlink the operator placed there, a block
// device). A replica already at an earlier snapshot of the same VG is moved
// forward with a delta from that snapshot; otherwise the volumes are
// written whole. The request runs to its end: the sender waits for it.
func (rs *ReplicationServer) materialize(w http.ResponseWriter, r *http.Request, t *tenant) error {
	src, e := replSource(r)
	if e != nil {
		return e
	}
	var req api.ReplReplicaRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	if t.root == "" {
		return api.Errorf(api.CodeForbidden, "this replication server has no replica root (vmrepd --replica-root); it does not materialize")
	}
	if req.Dir == "" || !filepath.IsLocal(req.Dir) {
		return api.Errorf(api.CodeInvalid, "replica directory %q must be a relative path inside the replica root", req.Dir)
	}
	dir := filepath.Join(t.root, req.Dir)
	if e := rs.s.checkDir("replica", dir, false); e != nil {
		return e
	}
	if parent, err := realPath(filepath.Dir(dir)); err != nil || !within(parent, t.root) || rs.othersRoot(t, dir) || rs.othersRoot(t, parent) {
		return api.Errorf(api.CodeInvalid, "replica directory %q leaves the replica root", req.Dir)
	}
	ctx := r.Context()
	// The VG's origin is checked before its snapshot is resolved: a
	// refusal to another source must not name the VG (a missing
	// snapshot's error would).
	vg, err := t.cat.GetVG(ctx, req.VGID)
	if err != nil {
		return fmt.Errorf("materialize: %w", err)
	}
	if e := checkOrigin(vg, src, false); e != nil {
		return e
	}
	_, sn, err := t.cat.ResolveRef(ctx, volume.Ref{VG: req.VGID, Seq: req.Seq})
	if err != nil {
		return fmt.Errorf("materialize: %w", err)
	}
	rd, e := hydrationReader(t.store, sn, req)
	if e != nil {
		return e
	}
	var binds []deviceBind
	if len(req.Devices) > 0 {
		if binds, err = rs.checkDevices(sn, req.Devices); err != nil {
			return err
		}
	}
	unlock, e := rs.s.replicas.tryLock(dir, "a replication materialize")
	if e != nil {
		return e
	}
	defer unlock()
	release, err := rs.s.jobs.hold(r.Context(), "a replica materialize")
	if err != nil {
		return err
	}
	defer release()
	// A forget on this server must keep sn from the moment a replica is
	// being written at it, before replicaWritten records it.
	defer t.known.writingReplica(sn)()
	if _, err := t.cat.GetSnapshot(ctx, sn.VGID, sn.Seq); err != nil {
		return fmt.Errorf("materialize: %w", err) // forgotten before the mark
	}
	if binds != nil {
		return rs.materializeDevices(w, r, t, rd, sn, req.Dir, dir, binds)
	}
	if e := rs.refuseBoundDevices(sn, dir); e != nil {
		return e
	}
	st, how, err := rs.writeReplica(ctx, t, rd, sn, dir)
	if err != nil {
		return err
	}
	t.known.replicaWritten(dir, st)
	rs.s.log.Info("replica materialized", "snapshot", sn.Name(), "dir", dir, "how", how, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, apiconv.Replica(req.Dir, st))
	return nil
}

// materializeDevices writes the bound volumes of sn into their devices,
// under the replica's lock and the hold materialize already took.
func (rs *ReplicationServer) materializeDevices(w http.ResponseWriter, r *http.Request, t *tenant, rd blob.Reader, sn volume.Snapshot, rel, dir string, binds []deviceBind) error {
	if err := bindDevices(dir, binds); err != nil {
		return err
	}
	st, writes, err := rs.writeDevices(r.Context(), t, rd, sn, dir, binds)
	if err != nil {
		return err
	}
	t.known.replicaWritten(dir, st)
	for _, d := range writes {
		rs.s.log.Info("volume materialized into a device", "snapshot", sn.Name(), "volume", d.VolumeID, "device", d.Device,
			"how", d.How, "written", d.WrittenBytes, "remote", r.RemoteAddr)
	}
	res := apiconv.Replica(rel, st)
	res.Devices = writes
	writeJSON(w, http.StatusOK, res)
	return nil
}

// writeReplica brings dir to sn, read through rd, and says how:
// "current", "delta" or "full". A snapshot sealed by its source is
// written whole: a delta of sealed snapshots is not computed (see
// doc/design.md, "Source-side encryption").
func (rs *ReplicationServer) writeReplica(ctx context.Context, t *tenant, rd blob.Reader, sn volume.Snapshot, dir string) (*replica.State, string, error) {
	st, err := replica.ReadState(ctx, dir)
	if err != nil {
		return nil, "", err
	}
	if st.VGID == sn.VGID && st.SnapshotID == sn.ID {
		return st, "current", nil
	}
	if st.VGID == sn.VGID && st.SnapshotID != "" && st.Seq < sn.Seq && sn.Sealed() == "" {
		base, err := t.cat.GetSnapshot(ctx, sn.VGID, st.Seq)
		if err == nil && base.ID == st.SnapshotID && base.Sealed() == "" {
			st, err := rs.applyDelta(ctx, t, base, sn, dir)
			return st, "delta", err
		}
	}
	st, err = replica.CreateReplica(ctx, rd, sn, dir, replica.ReplicaOptions{})
	return st, "full", err
}

// applyDelta moves the replica from base to target by their delta, so
// only changed ranges are written.
func (rs *ReplicationServer) applyDelta(ctx context.Context, t *tenant, base, target volume.Snapshot, dir string) (*replica.State, error) {
	_, st, err := moveReplicaIn(ctx, t.store, base, target, dir, replica.ApplyOptions{}, nil)
	if err != nil {
		return nil, fmt.Errorf("materialize %s: %w", target.Name(), err)
	}
	return st, nil
}
