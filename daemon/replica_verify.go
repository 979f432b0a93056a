package daemon

import (
	"context"
	"io"
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/internal/apiconv"
)

// verifyReplica starts a job that reads every volume file of a replica and
// compares it with the snapshot its state file names.
func (s *Server) verifyReplica(w http.ResponseWriter, r *http.Request) error {
	req, err := s.replicaDirRequest(w, r)
	if err != nil {
		return err
	}
	// Under the replica's lock: an apply running meanwhile would show as
	// damage.
	unlock, e := s.replicas.tryLock(req.Dir, "a replica verify")
	if e != nil {
		return e
	}
	return s.startJob(w, r, api.JobReplicaVerify, req.Dir, func(ctx context.Context, j *job) (any, error) {
		return s.runVerifyReplica(ctx, j, req.Dir)
	}, unlock)
}

func (s *Server) runVerifyReplica(ctx context.Context, j *job, dir string) (any, error) {
	j.progress("verify", 0, 0, "")
	if st, err := replica.ReadState(ctx, dir); err == nil {
		for _, v := range st.Volumes {
			if sn, err := s.cat.GetSnapshot(ctx, st.VGID, v.Seq); err == nil && sn.ID == v.SnapshotID && sn.Sealed() != "" {
				return nil, api.Errorf(api.CodeInvalid, "replica %s holds %s, which its source sealed: this daemon cannot open its chunks to compare (the replica was read back against them when it was written)", dir, sn.Name())
			}
		}
	}
	st, checks, err := replica.VerifyReplica(ctx, dir, replica.VerifyReplicaOptions{
		Snapshot: func(vgID string, v replica.VolumeState) (blob.ID, bool) { return s.replicaManifest(ctx, vgID, v) },
		Blobs:    s.store,
		Rechunk:  s.rechunk,
		Progress: func(done, total int64) { j.progress("verify", done, total, "") },
	})
	if err != nil {
		return nil, err
	}
	res, bad := apiconv.Verify(dir, st, checks)
	if len(bad) > 0 {
		return res, api.Errorf(api.CodeCorrupt, "replica %s: %d of %d volumes differ from the snapshot %s names; first: volume %q: %s",
			dir, len(bad), len(checks), replica.StateName, bad[0].Name, bad[0].Problem)
	}
	return res, nil
}

// replicaManifest finds the snapshot a replica volume names in the catalog
// and returns the snapshot's manifest for the volume; false when the
// snapshot is gone (deleted, or the replica came from another store).
func (s *Server) replicaManifest(ctx context.Context, vgID string, v replica.VolumeState) (blob.ID, bool) {
	sn, err := s.cat.GetSnapshot(ctx, vgID, v.Seq)
	if err != nil || sn.ID != v.SnapshotID {
		return blob.ID{}, false
	}
	vs, ok := sn.Volume(v.ID)
	return vs.Manifest, ok
}

// rechunk computes the manifest ID of size bytes of r with the chunker
// parameters p (nil: the store's), storing nothing: what the fallback of a
// replica verify compares with state.json. It is replica.Rechunk, which an
// in-process `vmrep replica verify` runs too.
func (s *Server) rechunk(ctx context.Context, r io.ReaderAt, size int64, p *blob.ChunkerParams, done func(int64)) (blob.ID, error) {
	if p == nil {
		p = s.chunkerParams()
	}
	return replica.Rechunk(ctx, r, size, p, done)
}

// chunkerParams are the store's chunker parameters, which replicas this
// daemon writes record in their state.
func (s *Server) chunkerParams() *blob.ChunkerParams {
	p := s.store.Config().Chunker
	return &p
}
