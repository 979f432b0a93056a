package daemon

import (
	"context"
	"errors"
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/volume"
)

// maxProblems bounds the problems a verify result lists.
const maxProblems = 1000

func (s *Server) verify(w http.ResponseWriter, r *http.Request) error {
	var req api.VerifyRequest
	if r.ContentLength != 0 {
		if e := decodeBody(w, r, &req); e != nil {
			return e
		}
	}
	admin := callerOf(r).admin // only an admin learns the tenancies' names
	return s.startJob(w, r, api.JobVerify, "store", func(ctx context.Context, j *job) (any, error) {
		res, err := s.runVerify(ctx, j, req)
		if vr, ok := res.(api.VerifyResult); ok && admin && len(s.tenancies) > 0 {
			if err = s.verifyTenancies(ctx, j, req, &vr, err); err == nil || isCorrupt(err) {
				res = vr
			} else {
				res = nil
			}
		}
		s.metrics.verified(res, err)
		return res, err
	}, nil)
}

// runVerify checks the server's own store.
func (s *Server) runVerify(ctx context.Context, j *job, req api.VerifyRequest) (any, error) {
	res, err := verifyStore(ctx, j, s.store, s.cat, req)
	if err != nil && !isCorrupt(err) {
		return nil, err
	}
	return res, err
}

// isCorrupt says whether err is verify's report of problems.
func isCorrupt(err error) bool {
	var e *api.Error
	return errors.As(err, &e) && e.Code == api.CodeCorrupt
}

// verifyStore checks a store's structure (every pack's header, footer and
// index entries; with ReadData every blob's hash, read in parallel) and then
// every snapshot's manifests and the presence of every chunk they name.
func verifyStore(ctx context.Context, j *job, st *cas.Store, cat *volume.Catalog, req api.VerifyRequest) (api.VerifyResult, error) {
	res := api.VerifyResult{Problems: []string{}}
	add := func(p string) {
		if len(res.Problems) < maxProblems {
			res.Problems = append(res.Problems, p)
		}
	}
	phase := "check packs"
	if req.ReadData {
		phase = "read data"
	}
	rep, err := st.Verify(ctx, cas.VerifyOptions{
		ReadData: req.ReadData,
		Progress: func(done, total int64) { j.progress(phase, done, total, "") },
	})
	if err != nil {
		return res, err // an I/O error, not a finding: runVerify drops res
	}
	res.Packs, res.Blobs = rep.Packs, int64(rep.Blobs)
	res.StoredBytes, res.RawBytes = rep.StoredBytes, rep.RawBytes
	for _, p := range rep.Problems {
		add(p.String())
	}
	probs, err := volume.CheckSnapshots(ctx, cat, st, func(done, total int) {
		j.progress("check snapshots", int64(done), int64(total), "")
		res.Volumes = total
	})
	if err != nil {
		return res, err
	}
	for _, p := range probs {
		add(p.Error())
	}
	vgs, err := cat.ListVGs(ctx)
	if err != nil {
		return res, err
	}
	for _, vg := range vgs {
		ss, err := cat.ListSnapshots(ctx, vg.ID)
		if err != nil {
			return res, err
		}
		res.Snapshots += len(ss)
	}
	if n := len(rep.Problems) + len(probs); n > 0 {
		return res, api.Errorf(api.CodeCorrupt, "verify found %d problems; first: %s", n, res.Problems[0])
	}
	return res, nil
}
