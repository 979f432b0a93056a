package daemon

import (
	"context"
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/apiconv"
)

// createReplica starts a job that writes a snapshot's volumes into a
// replica directory, which the daemon creates and writes itself.
func (s *Server) createReplica(w http.ResponseWriter, r *http.Request) error {
	var req api.ReplicaRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	_, sn, err := s.resolveRef(r, "snapshot", req.Snapshot)
	if err != nil {
		return err
	}
	if e := readable(sn); e != nil {
		return e
	}
	if req.Volume != "" {
		if _, found := sn.Volume(req.Volume); !found {
			return api.Errorf(api.CodeNotFound, "snapshot %s has no volume %q", sn.Name(), req.Volume)
		}
	}
	if e := s.checkDir("replica", req.Dir, false); e != nil {
		return e
	}
	if e := s.cutovers.refuseLive(req.Dir); e != nil {
		return e
	}
	if req.At {
		return s.createReplicaAt(w, r, sn, req)
	}
	unlock, e := s.replicas.tryLock(req.Dir, "a replica create")
	if e == nil && !req.Force {
		if e = checkReplicaTarget(r.Context(), req.Dir, sn); e != nil {
			unlock()
		}
	}
	if e != nil {
		return e
	}
	return s.startJob(w, r, api.JobReplica, sn.Name()+" to "+req.Dir, func(ctx context.Context, j *job) (any, error) {
		res, err := s.runReplica(ctx, j, sn, req)
		if err != nil {
			return nil, err
		}
		return res, nil
	}, unlock)
}

func (s *Server) runReplica(ctx context.Context, j *job, sn volume.Snapshot, req api.ReplicaRequest) (api.ReplicaResult, error) {
	// CreateReplica restores volumes one after the other; the bar covers
	// them all, so each volume's progress is offset by those before it.
	var total int64
	for _, v := range sn.Volumes {
		if req.Volume == "" || req.Volume == v.Name || req.Volume == v.VolumeID {
			total += v.Size
		}
	}
	var before, last int64
	progress := func(done, size int64) {
		if done < last { // the next volume started
			before += last
		}
		last = done
		j.progress("restore", before+done, total, "")
	}
	st, err := replica.CreateReplica(ctx, s.store, sn, req.Dir, replica.ReplicaOptions{
		Volume: req.Volume, Replace: req.Force, Chunker: s.chunkerParams(), Restore: restore.Options{Progress: progress}})
	if err != nil {
		return api.ReplicaResult{}, err
	}
	s.known.replicaWritten(req.Dir, st)
	j.progress("restore", total, total, "replica at "+sn.Name())
	return apiconv.Replica(req.Dir, st), nil
}
