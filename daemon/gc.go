package daemon

import (
	"context"
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/gc"
)

// gc runs a garbage collection as a job that has the store to itself: a
// snapshot being ingested names blobs no snapshot record names yet, and a
// read racing a pack rewrite could miss its blob.
func (s *Server) gc(w http.ResponseWriter, r *http.Request) error {
	var req api.GCRequest
	if r.ContentLength != 0 {
		if e := decodeBody(w, r, &req); e != nil {
			return e
		}
	}
	j, err := s.jobs.startExclusive(api.JobGC, "store", func(ctx context.Context, j *job) (any, error) {
		st, err := gc.Run(ctx, s.store, s.cat, gc.Options{
			DryRun:   req.DryRun,
			Progress: func(phase string, done, total int64) { j.progress(phase, done, total, "") },
		})
		if err != nil {
			return nil, err
		}
		sw := st.SweepStats
		s.metrics.collected(req.DryRun, sw, s.clock.Now())
		return api.GCResult{
			DryRun: req.DryRun, Snapshots: st.Snapshots, LivePages: st.LivePages, ChunkRefs: st.ChunkRefs,
			StoreBlobs: st.StoreBlobs, LiveBlobs: sw.LiveBlobs, LiveBytes: sw.LiveBytes,
			DeadBlobs: sw.DeadBlobs, DeadBytes: sw.DeadBytes, ReclaimableBytes: sw.ReclaimableBytes,
			DeadKeptBytes: sw.DeadKeptBytes,
			PacksDeleted:  sw.PacksDeleted, PacksRewritten: sw.PacksRewritten, BlobsDeleted: sw.BlobsDeleted,
			StoreBytesBefore: sw.StoreBytesBefore, StoreBytesAfter: sw.StoreBytesAfter, BytesFreed: sw.BytesFreed,
			PacksSkippedNoSpace: sw.PacksSkippedNoSpace,
		}, nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, j.view())
	return nil
}
