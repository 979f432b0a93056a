package daemon

import (
	"context"
	"fmt"
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/volume"
)

// maxProblems bounds the problems a verify result lists.
const maxProblems = 1000

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	var req api.VerifyRequest
	if r.ContentLength != 0 {
		if e := decodeBody(w, r, &req); e != nil {
			writeError(w, e)
			return
		}
	}
	j, err := s.jobs.start(api.JobVerify, "store", func(ctx context.Context, j *job) (any, error) {
		return s.runVerify(ctx, j, req)
	}, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, j.view())
}

// runVerify checks every snapshot's manifests and that the store holds each
// chunk; with ReadData it also reads every chunk once, which checks its hash.
func (s *Server) runVerify(ctx context.Context, j *job, req api.VerifyRequest) (any, error) {
	res := api.VerifyResult{Problems: []string{}}
	add := func(p string) {
		if len(res.Problems) < maxProblems {
			res.Problems = append(res.Problems, p)
		}
	}
	probs, err := volume.CheckSnapshots(ctx, s.cat, s.store, func(done, total int) {
		j.progress("check snapshots", int64(done), int64(total), "")
		res.Volumes = total
	})
	if err != nil {
		return nil, err
	}
	for _, p := range probs {
		add(fmt.Sprintf("%v (blob %s)", p, p.ID))
	}
	if req.ReadData {
		if err := s.readAllChunks(ctx, j, &res, add); err != nil {
			return nil, err
		}
	}
	vgs, err := s.cat.ListVGs(ctx)
	if err != nil {
		return nil, err
	}
	for _, vg := range vgs {
		ss, err := s.cat.ListSnapshots(ctx, vg.ID)
		if err != nil {
			return nil, err
		}
		res.Snapshots += len(ss)
	}
	if len(probs) > 0 || len(res.Problems) > 0 {
		return res, api.Errorf(api.CodeCorrupt, "verify found %d problems; first: %s", len(res.Problems), res.Problems[0])
	}
	return res, nil
}

// readAllChunks reads every distinct chunk of every snapshot.
func (s *Server) readAllChunks(ctx context.Context, j *job, res *api.VerifyResult, add func(string)) error {
	vgs, err := s.cat.ListVGs(ctx)
	if err != nil {
		return err
	}
	seen := make(map[cas.ID]struct{})
	var buf []byte
	for _, vg := range vgs {
		snaps, err := s.cat.ListSnapshots(ctx, vg.ID)
		if err != nil {
			return err
		}
		for _, sn := range snaps {
			for _, v := range sn.Volumes {
				m, err := volume.LoadManifest(ctx, s.store, v.Manifest)
				if err != nil {
					continue // CheckSnapshots already reported it
				}
				err = m.Walk(ctx, s.store, 0, func(off int64, e volume.Entry) error {
					if e.Hole {
						return nil
					}
					if _, ok := seen[e.ID]; ok {
						return nil
					}
					seen[e.ID] = struct{}{}
					var gerr error
					buf, gerr = s.store.Get(ctx, e.ID, buf[:0])
					if gerr != nil {
						add(fmt.Sprintf("snapshot %s volume %q at offset %d: chunk %s: %v", sn.Name(), v.Name, off, e.ID, gerr))
					} else {
						res.RawBytes += int64(len(buf))
					}
					res.Blobs++
					j.progress("read data", res.Blobs, 0, "")
					return nil
				})
				if err != nil && ctx.Err() != nil {
					return err
				}
				if err != nil {
					add(fmt.Sprintf("snapshot %s volume %q: %v", sn.Name(), v.Name, err))
				}
			}
		}
	}
	return nil
}
