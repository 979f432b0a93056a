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
func (s *Server) restore(w http.ResponseWriter, r *http.Request) error {
	var req api.RestoreRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	return s.startVolumeWrite(w, r, api.JobRestore, req.Snapshot, req.Volume, req.Output,
		func(ctx context.Context, j *job, sn volume.Snapshot, vs volume.VolumeSnapshot, m *volume.Manifest) (any, error) {
			return s.runRestore(ctx, j, sn, vs, m, req.Output)
		})
}

func (s *Server) runRestore(ctx context.Context, j *job, sn volume.Snapshot, vs volume.VolumeSnapshot, m *volume.Manifest, out string) (any, error) {
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
