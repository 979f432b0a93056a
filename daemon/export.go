package daemon

import (
	"context"
	"fmt"
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/export"
	"github.com/vmrep/vmrep/engine/volume"
)

// export starts a job that writes one volume of a snapshot as an image a
// hypervisor or cloud imports (QCOW2), or raw.
func (s *Server) export(w http.ResponseWriter, r *http.Request) error {
	var req api.ExportRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	format := export.Format(req.Format)
	if format != export.FormatQcow2 && format != export.FormatRaw {
		return api.Errorf(api.CodeInvalid, "image format %q: want qcow2 or raw", req.Format)
	}
	return s.startVolumeWrite(w, r, api.JobExport, req.Snapshot, req.Volume, req.Output,
		func(ctx context.Context, j *job, sn volume.Snapshot, vs volume.VolumeSnapshot, m *volume.Manifest) (any, error) {
			return s.runExport(ctx, j, sn, vs, m, format, req.Output)
		})
}

func (s *Server) runExport(ctx context.Context, j *job, sn volume.Snapshot, vs volume.VolumeSnapshot, m *volume.Manifest, format export.Format, out string) (any, error) {
	st, err := export.Volume(ctx, s.store, m, format, out, export.Options{
		Progress: func(done, total int64) { j.progress("export", done, total, "") },
	})
	if err != nil {
		return nil, fmt.Errorf("export %s volume %q to %s: %w", sn.Name(), vs.Name, out, err)
	}
	j.progress("export", st.Size, st.Size, "wrote "+out)
	return api.ExportResult{Snapshot: sn.Name(), Volume: vs.Name, Format: string(format), Output: out,
		Size: st.Size, DataBytes: st.DataBytes, DataClusters: st.DataClusters, FileBytes: st.FileSize}, nil
}
