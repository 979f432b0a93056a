package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/apiconv"
)

// moveReplica brings the replica in dir from base, which it holds, to
// target by the one delta base..target: exported into a temporary file
// beside the replica and applied through replica.Apply (journaled, its
// ranges checked before any is written), so only the ranges that differ
// are written. The store diffs any two of its snapshots directly, so base
// may be before or after target. progress, when not nil, is told each
// phase as it starts.
func (s *Server) moveReplica(ctx context.Context, base, target volume.Snapshot, dir string, opts replica.ApplyOptions,
	progress func(phase, msg string)) (delta.Summary, *replica.State, error) {
	return moveReplicaIn(ctx, s.store, base, target, dir, opts, progress)
}

// moveReplicaIn is moveReplica reading the snapshots from st.
func moveReplicaIn(ctx context.Context, st *cas.Store, base, target volume.Snapshot, dir string, opts replica.ApplyOptions,
	progress func(phase, msg string)) (delta.Summary, *replica.State, error) {
	if progress == nil {
		progress = func(string, string) {}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".vmrep-delta-")
	if err != nil {
		return delta.Summary{}, nil, err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "d.vmdelta")
	progress("export", "delta "+base.Name()+".."+target.Name())
	if _, err := build.Export(ctx, st, base, target, delta.FileSink(path), build.ExportOptions{}); err != nil {
		return delta.Summary{}, nil, err
	}
	rd, err := delta.OpenForApply(ctx, path)
	if err != nil {
		return delta.Summary{}, nil, err
	}
	progress("apply", "")
	sum, err := replica.Apply(ctx, rd, dir, opts)
	if err != nil {
		return delta.Summary{}, nil, err
	}
	state, err := replica.ReadState(ctx, dir)
	return sum, state, err
}

// plannedMove is what replica create --at found in the directory, checked
// under the replica's lock before its job starts.
type plannedMove struct {
	how  string          // api.Moved*
	from string          // the snapshot the replica holds, "web@3"; "" when none
	base volume.Snapshot // for api.MovedByDelta
	// done releases the marks that keep the snapshots read from in the
	// store while the job runs.
	done func()
}

// createReplicaAt is replica create --at: it moves the replica in
// req.Dir from the snapshot it holds to sn by one delta, or writes sn
// whole where the directory holds none (or with Force).
func (s *Server) createReplicaAt(w http.ResponseWriter, r *http.Request, sn volume.Snapshot, req api.ReplicaRequest) error {
	if req.Volume != "" {
		return api.Errorf(api.CodeInvalid, "--at moves every volume of a replica; it takes no --volume")
	}
	unlock, e := s.replicas.tryLock(req.Dir, "a replica create")
	if e != nil {
		return e
	}
	p, err := s.planMove(r.Context(), req.Dir, sn, req.Force)
	if err != nil {
		unlock()
		return err
	}
	release := func() {
		p.done()
		unlock()
	}
	return s.startJob(w, r, api.JobReplica, sn.Name()+" to "+req.Dir, func(ctx context.Context, j *job) (any, error) {
		return s.runMove(ctx, j, p, sn, req)
	}, release)
}

// planMove reads the replica's state and decides how to bring it to sn.
// What it refuses leaves the replica untouched.
func (s *Server) planMove(ctx context.Context, dir string, sn volume.Snapshot, force bool) (*plannedMove, error) {
	st, err := replica.ReadState(ctx, dir)
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "%v", err)
	}
	// A forget must keep sn from now until the job records the replica.
	p := &plannedMove{done: s.known.writingReplica(sn)}
	if st.VGID == sn.VGID && st.SnapshotID != "" {
		p.from = fmt.Sprintf("%s@%d", sn.VGName, st.Seq)
	}
	var refuse *api.Error
	switch {
	case st.VGID == "":
		p.how = api.MovedCreated
	case force:
		p.how = api.MovedRewritten
	case st.VGID != sn.VGID:
		refuse = api.Errorf(api.CodeConflict, "replica %s holds volume group %s, not %s; --at moves a replica between snapshots of its own volume group (--force replaces it)",
			dir, st.VGName, sn.VGName)
	case st.SnapshotID == "":
		refuse = api.Errorf(api.CodeConflict, "replica %s has volumes at different snapshots (%s); --at moves a replica whose volumes are at one; add --force to rewrite it whole at %s",
			dir, volumeSeqs(st), sn.Name())
	case st.SnapshotID == sn.ID:
		p.how = api.MovedCurrent
	default:
		p.how = api.MovedByDelta
		base := volume.Snapshot{VGID: st.VGID, ID: st.SnapshotID}
		doneBase := s.known.writingReplica(base) // keeps the delta's base through the export
		doneTarget := p.done
		p.done = func() { doneBase(); doneTarget() }
		p.base, err = s.cat.GetSnapshot(ctx, st.VGID, st.Seq)
		switch {
		case errors.Is(err, volume.ErrNotFound) || err == nil && p.base.ID != st.SnapshotID:
			refuse = api.Errorf(api.CodeConflict, "replica %s is at %s, which the store no longer holds, so no delta starts from it; add --force to rewrite it whole at %s",
				dir, p.from, sn.Name())
		case err != nil:
			p.done()
			return nil, err
		}
	}
	if refuse != nil {
		p.done()
		return nil, refuse
	}
	return p, nil
}

// volumeSeqs names each volume of st with its snapshot: "boot@2, db@3".
func volumeSeqs(st *replica.State) string {
	parts := make([]string, len(st.Volumes))
	for i, v := range st.Volumes {
		parts[i] = fmt.Sprintf("%s@%d", v.Name, v.Seq)
	}
	return strings.Join(parts, ", ")
}

func (s *Server) runMove(ctx context.Context, j *job, p *plannedMove, sn volume.Snapshot, req api.ReplicaRequest) (any, error) {
	var size int64
	for _, v := range sn.Volumes {
		size += v.Size
	}
	res := api.ReplicaMoveResult{From: p.from, How: p.how, VolumeBytes: size}
	switch p.how {
	case api.MovedCreated, api.MovedRewritten:
		rr, err := s.runReplica(ctx, j, sn, req)
		if err != nil {
			return nil, err
		}
		res.ReplicaResult, res.WrittenBytes = rr, size
		return res, nil
	case api.MovedCurrent:
		st, err := replica.ReadState(ctx, req.Dir)
		if err != nil {
			return nil, err
		}
		res.ReplicaResult = apiconv.Replica(req.Dir, st)
		j.progress("apply", 0, 0, "replica at "+sn.Name()+" already")
		return res, nil
	}
	sum, st, err := s.moveReplica(ctx, p.base, sn, req.Dir, replica.ApplyOptions{Chunker: s.chunkerParams()},
		func(phase, msg string) { j.progress(phase, 0, 0, msg) })
	if err != nil {
		return nil, fmt.Errorf("move replica %s from %s to %s: %w", req.Dir, p.from, sn.Name(), err)
	}
	s.known.replicaWritten(req.Dir, st)
	d := apiconv.Summary(sum)
	res.ReplicaResult, res.WrittenBytes, res.Delta = apiconv.Replica(req.Dir, st), sum.ChangedBytes, &d
	j.progress("apply", sum.Records, sum.Records, fmt.Sprintf("moved from %s: wrote %d bytes of %d", p.from, sum.ChangedBytes, size))
	return res, nil
}
