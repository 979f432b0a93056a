package daemon

import (
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/stackgen"
)

// generateServerStack writes the stack that provisions a replication
// server into the user's tenancy. It reads nothing of the store; it is
// here so that the CLI stays a client of the API and never links stackgen.
func (s *Server) generateServerStack(w http.ResponseWriter, r *http.Request) error {
	var req api.ServerStackRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	if e := s.checkDir("server stack", req.Out, false); e != nil {
		return e
	}
	files, err := stackgen.WriteServer(req.Out, stackgen.ServerStack{Name: req.Name, Port: req.Port, TokenStore: req.TokenStore}, req.Target)
	if err != nil {
		return err
	}
	s.log.Info("server stack generated", "out", req.Out, "target", req.Target, "name", req.Name)
	writeJSON(w, http.StatusOK, api.ServerStackResult{Out: req.Out, Target: req.Target, Files: files})
	return nil
}
