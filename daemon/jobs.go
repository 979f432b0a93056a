package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/vmrep/vmrep/api"
)

// heartbeat keeps an idle event stream visibly alive.
const heartbeat = 2 * time.Second

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.jobs.list())
	return nil
}

func (s *Server) findJob(r *http.Request) (*job, error) {
	id := r.PathValue("id")
	j, ok := s.jobs.get(id)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no job %q (finished jobs are forgotten after a while)", id)
	}
	return j, nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.findJob(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, j.view())
	return nil
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.findJob(r)
	if err != nil {
		return err
	}
	if c := callerOf(r); !c.admin && c.uid != j.owner {
		return s.refuse(r, c, "canceling job "+j.id+" (started by "+ownerName(j.owner)+")", "may only cancel the jobs it started")
	}
	j.cancel()
	s.log.Info("job cancel requested", "job", j.id)
	writeJSON(w, http.StatusAccepted, j.view())
	return nil
}

// jobEvents streams NDJSON: the latest state at once, then every change
// (coalesced when the reader is slower than the job), ending with the
// final event.
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) error {
	j, err := s.findJob(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	// Once the stream has begun, a write error is the reader gone: there
	// is nobody to answer.
	for {
		ev, changed := j.event()
		if err := enc.Encode(ev); err != nil {
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
		if api.Final(ev.State) {
			return nil
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-r.Context().Done():
			return nil
		}
	}
}

// startJob starts fn as a job and answers 202 with it. release, when not
// nil, frees what the caller took for the job (a lock, a connection): the
// job manager calls it when fn returns, and startJob when the job could not
// start at all.
func (s *Server) startJob(w http.ResponseWriter, r *http.Request, kind, target string, fn func(ctx context.Context, j *job) (any, error), release func()) error {
	j, err := s.jobs.startAs(callerOf(r).uid, kind, target, fn, release)
	if err != nil {
		if release != nil {
			release()
		}
		return err
	}
	writeJSON(w, http.StatusAccepted, j.view())
	return nil
}
