package daemon

import (
	"net/http"
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/internal/apiconv"
)

// showReplica describes a replica: its state file, its volume files and
// the journal of an apply in progress, if any. It reads and changes
// nothing else.
func (s *Server) showReplica(w http.ResponseWriter, r *http.Request) error {
	req, err := s.replicaDirRequest(w, r)
	if err != nil {
		return err
	}
	st, err := replica.ReadState(r.Context(), req.Dir)
	if err != nil {
		return err
	}
	if st.VGID == "" {
		return api.Errorf(api.CodeNotFound, "%s holds no replica (no %s)", req.Dir, replica.StateName)
	}
	jr, err := replica.ReadJournal(req.Dir)
	if err != nil {
		return err
	}
	rep := apiconv.Replica(req.Dir, st)
	out := api.ReplicaInfo{Dir: req.Dir, StateFile: filepath.Join(req.Dir, replica.StateName), VGID: rep.VGID,
		VGName: rep.VGName, SnapshotID: rep.SnapshotID, Seq: rep.Seq, Volumes: make([]api.ReplicaFile, len(rep.Volumes))}
	for i, v := range rep.Volumes {
		f := api.ReplicaFile{ReplicaVolume: v, File: replica.VolumePath(req.Dir, v.ID), Kind: "missing"}
		if fi, err := os.Stat(f.File); err == nil {
			f.Kind = "file"
			if !fi.Mode().IsRegular() {
				f.Kind = "block device"
			}
		}
		out.Volumes[i] = f
	}
	if jr != nil {
		out.Applying = &api.ReplicaJournal{Delta: jr.Delta.String(), Base: jr.Base, Target: jr.Target, Volumes: jr.Volumes}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// replicaDirRequest reads the body of a replica request and checks the
// directory it names exists; on a bad request it answers and returns false.
func (s *Server) replicaDirRequest(w http.ResponseWriter, r *http.Request) (api.ReplicaDirRequest, error) {
	var req api.ReplicaDirRequest
	if e := decodeBody(w, r, &req); e != nil {
		return req, e
	}
	if e := s.checkDir("replica", req.Dir, true); e != nil {
		return req, e
	}
	return req, nil
}
