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
		opts := gc.Options{
			DryRun:   req.DryRun,
			Progress: func(phase string, done, total int64) { j.progress(phase, done, total, "") },
		}
		// The tenancies' stores are collected at once: their bucket
		// prefixes take no bucket lock (doc/design.md, "Many daemons,
		// one bucket"), so they have no pending phase.
		tenancyOpts := opts
		if b := s.jobs.bucket; b != nil {
			// Shared bucket: two-phase (bucketlock.go, doc/design.md).
			opts.Pending, opts.Grace = s.store.Control(), b.opts.GCGrace
		}
		st, err := gc.Run(ctx, s.store, s.cat, opts)
		if err != nil {
			return nil, err
		}
		s.metrics.collected(req.DryRun, st.SweepStats, s.clock.Now())
		res := toAPIGC(req.DryRun, st)
		if res.Tenancies, err = s.gcTenancies(ctx, tenancyOpts); err != nil {
			return nil, err
		}
		return res, nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, j.view())
	return nil
}

func toAPIGC(dryRun bool, st gc.Stats) api.GCResult {
	sw := st.SweepStats
	return api.GCResult{
		DryRun: dryRun, Snapshots: st.Snapshots, LivePages: st.LivePages, ChunkRefs: st.ChunkRefs,
		StoreBlobs: st.StoreBlobs, LiveBlobs: sw.LiveBlobs, LiveBytes: sw.LiveBytes,
		DeadBlobs: sw.DeadBlobs, DeadBytes: sw.DeadBytes, ReclaimableBytes: sw.ReclaimableBytes,
		DeadKeptBytes: sw.DeadKeptBytes,
		PacksDeleted:  sw.PacksDeleted, PacksRewritten: sw.PacksRewritten, BlobsDeleted: sw.BlobsDeleted,
		StoreBytesBefore: sw.StoreBytesBefore, StoreBytesAfter: sw.StoreBytesAfter, BytesFreed: sw.BytesFreed,
		PacksSkippedNoSpace: sw.PacksSkippedNoSpace,
		PendingBlobs:        st.PendingBlobs,
	}
}
