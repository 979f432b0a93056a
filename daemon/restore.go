package daemon

import (
	"context"
	"fmt"
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/volume"
)

// restore starts a job that writes one volume of a snapshot to a path the
// daemon itself opens, so the path is checked here first.
func (s *Server) restore(w http.ResponseWriter, r *http.Request) {
	var req api.RestoreRequest
	if e := decodeBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	_, sn, vs, ok := s.resolveVolume(w, r, req.Snapshot, req.Volume)
	if !ok {
		return
	}
	if e := s.checkOutput(req.Output); e != nil {
		writeError(w, e)
		return
	}
	target := fmt.Sprintf("%s volume %s", sn.Name(), vs.Name)
	s.startJob(w, r, api.JobRestore, target, func(ctx context.Context, j *job) (any, error) {
		return s.runRestore(ctx, j, sn, vs, req.Output)
	}, nil)
}

func (s *Server) runRestore(ctx context.Context, j *job, sn volume.Snapshot, vs volume.VolumeSnapshot, out string) (any, error) {
	j.progress("load manifest", 0, vs.Size, "")
	m, err := volume.LoadManifest(ctx, s.store, vs.Manifest)
	if err != nil {
		return nil, fmt.Errorf("restore %s volume %q: %w", sn.Name(), vs.Name, err)
	}
	st, err := restore.ToPath(ctx, s.store, m, out, restore.Options{
		Progress: func(done, total int64) { j.progress("restore", done, total, "") },
	})
	if err != nil {
		return nil, fmt.Errorf("restore %s volume %q to %s: %w", sn.Name(), vs.Name, out, err)
	}
	j.progress("restore", st.Size, st.Size, "wrote "+out)
	return api.RestoreResult{Snapshot: sn.Name(), Volume: vs.Name, Output: out, Size: st.Size,
		DataBytes: st.DataBytes, Chunks: st.Chunks, Holes: st.Holes}, nil
}
