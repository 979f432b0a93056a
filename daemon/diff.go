package daemon

import (
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/diff"
)

// diff compares two snapshots. It reads manifests only, never chunk data,
// and skips equal pages, so it answers directly rather than as a job.
func (s *Server) diff(w http.ResponseWriter, r *http.Request) error {
	var req api.DiffRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	base, target, err := s.resolvePair(r, req.Base, req.Target)
	if err != nil {
		return err
	}
	diffs, err := diff.Snapshots(r.Context(), s.store, base, target, diff.Options{})
	if err != nil {
		return err
	}
	out := api.DiffResult{Base: base.Name(), Target: target.Name(), Volumes: make([]api.VolumeDiff, len(diffs))}
	for i, d := range diffs {
		out.Volumes[i] = api.VolumeDiff{VolumeID: d.VolumeID, Name: d.Name, Change: string(d.Change),
			BaseSize: d.Stats.BaseSize, TargetSize: d.Stats.TargetSize, ChangedBytes: d.Stats.ChangedBytes,
			Extents: d.Stats.Extents, ChangedChunks: d.Stats.ChangedChunks,
			PagesRead: d.Stats.PagesRead, PagesSkipped: d.Stats.PagesSkipped}
		// Sizes come from the snapshots too, in case a side had no pages to read.
		if d.Change != diff.Added {
			out.Volumes[i].BaseSize = d.Base.Size
		}
		if d.Change != diff.Removed {
			out.Volumes[i].TargetSize = d.Target.Size
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
