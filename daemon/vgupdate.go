package daemon

import (
	"net/http"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/volume"
)

// updateVG changes a VG's capture settings. It takes the VG's writer lock,
// like a snapshot, so a capture never sees half of a change, and re-reads
// the VG under it so a snapshot that just ended is not undone.
func (s *Server) updateVG(w http.ResponseWriter, r *http.Request) error {
	var req api.UpdateVGRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	vg, err := s.lookupVG(r)
	if err != nil {
		return err
	}
	unlock, e := s.writers.tryLock(vg.ID, vg.Name, "a settings change")
	if e != nil {
		return e
	}
	defer unlock()
	vg, err = s.cat.GetVG(r.Context(), vg.ID)
	if err != nil {
		return err
	}
	if e := applyVGUpdate(&vg, req); e != nil {
		return e
	}
	if err := s.cat.UpdateVG(r.Context(), vg); err != nil {
		return err
	}
	snaps, err := s.cat.ListSnapshots(r.Context(), vg.ID)
	if err != nil {
		return err
	}
	s.log.Info("volume group updated", "vg", vg.Name, "id", vg.ID,
		"hooks", !vg.Hooks.Empty(), "lvm_snapshot", vg.LVMSnapshot != nil)
	writeJSON(w, http.StatusOK, toAPIVG(vg, snaps))
	return nil
}

// applyVGUpdate sets what req names on vg and checks the result; a VG left
// with neither hook keeps no Hooks record.
func applyVGUpdate(vg *volume.VG, req api.UpdateVGRequest) *api.Error {
	h := volume.Hooks{}
	if vg.Hooks != nil {
		h = *vg.Hooks
	}
	if req.PreSnapshot != nil {
		h.Pre = *req.PreSnapshot
	}
	if req.PostSnapshot != nil {
		h.Post = *req.PostSnapshot
	}
	if req.HookTimeout != nil {
		h.Timeout = 0
		if *req.HookTimeout != "" {
			d, err := time.ParseDuration(*req.HookTimeout)
			if err != nil {
				return api.Errorf(api.CodeInvalid, "volume group %q: hook timeout %q: %v", vg.Name, *req.HookTimeout, err)
			}
			h.Timeout = volume.Duration(d)
		}
	}
	if err := h.Validate(); err != nil {
		return api.Errorf(api.CodeInvalid, "volume group %q: %v", vg.Name, err)
	}
	vg.Hooks = &h
	if h == (volume.Hooks{}) {
		vg.Hooks = nil
	}
	if req.LVMSnapshot != nil {
		switch {
		case !*req.LVMSnapshot:
			vg.LVMSnapshot = nil
		case vg.LVMSnapshot == nil:
			vg.LVMSnapshot = &volume.LVMSnapshot{}
		}
	}
	return nil
}
