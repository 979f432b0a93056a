package daemon

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

func (s *Server) listVGs(w http.ResponseWriter, r *http.Request) error {
	vgs, err := s.cat.ListVGs(r.Context())
	if err != nil {
		return err
	}
	out := make([]api.VG, 0, len(vgs))
	for _, vg := range vgs {
		snaps, err := s.cat.ListSnapshots(r.Context(), vg.ID)
		if err != nil {
			return err
		}
		out = append(out, toAPIVG(vg, snaps))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// lookupVG finds the VG named in the path, answering the error itself.
func (s *Server) lookupVG(r *http.Request) (volume.VG, error) {
	name := r.PathValue("name")
	if err := volume.ValidateName("volume group", name); err != nil && !looksLikeVGID(name) {
		return volume.VG{}, api.Errorf(api.CodeInvalid, "%v", err)
	}
	vg, err := s.cat.GetVG(r.Context(), name)
	if err != nil {
		return volume.VG{}, err
	}
	return vg, nil
}

func looksLikeVGID(s string) bool { return len(s) == 19 && s[:3] == "vg-" }

func (s *Server) getVG(w http.ResponseWriter, r *http.Request) error {
	vg, err := s.lookupVG(r)
	if err != nil {
		return err
	}
	snaps, err := s.cat.ListSnapshots(r.Context(), vg.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIVG(vg, snaps))
	return nil
}

func (s *Server) createVG(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateVGRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	vg, warnings, e := s.buildVG(r.Context(), req)
	if e != nil {
		return e
	}
	vg, err := s.cat.CreateVG(r.Context(), vg)
	if err != nil {
		return err
	}
	s.log.Info("volume group created", "vg", vg.Name, "id", vg.ID, "volumes", len(vg.Volumes))
	out := toAPIVG(vg, nil)
	out.Warnings = warnings
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// buildVG checks a create request and opens each source to learn its
// format and size. An empty volume is refused; a file whose extension
// names another format than the one detected gives a warning.
func (s *Server) buildVG(ctx context.Context, req api.CreateVGRequest) (volume.VG, []string, *api.Error) {
	var warnings []string
	if err := volume.ValidateNewName("volume group", req.Name); err != nil {
		return volume.VG{}, nil, api.Errorf(api.CodeInvalid, "%v", err)
	}
	if len(req.Volumes) == 0 {
		return volume.VG{}, nil, api.Errorf(api.CodeInvalid, "volume group %q: no volumes (want exactly one boot volume)", req.Name)
	}
	vg := volume.VG{Name: req.Name}
	seen := map[string]bool{}
	boots, nbdVolumes := 0, 0
	for _, v := range req.Volumes {
		if err := volume.ValidateNewName("volume", v.Name); err != nil {
			return volume.VG{}, nil, api.Errorf(api.CodeInvalid, "volume group %q: %v", req.Name, err)
		}
		if seen[v.Name] {
			return volume.VG{}, nil, api.Errorf(api.CodeInvalid, "volume group %q: two volumes named %q", req.Name, v.Name)
		}
		seen[v.Name] = true
		switch v.Role {
		case api.RoleBoot:
			boots++
		case api.RoleData:
		default:
			return volume.VG{}, nil, api.Errorf(api.CodeInvalid, "volume %q: invalid role %q (want boot or data)", v.Name, v.Role)
		}
		what := "volume " + v.Name
		if source.IsNBD(v.Path) {
			vol, e := s.nbdVolume(ctx, what, v, req.QMP)
			if e != nil {
				return volume.VG{}, nil, e
			}
			nbdVolumes++
			vg.Volumes = append(vg.Volumes, vol)
			continue
		}
		path, e := s.checkSource(what, v.Path)
		if e != nil {
			return volume.VG{}, nil, e
		}
		src, err := source.Open(ctx, path)
		if err != nil {
			return volume.VG{}, nil, api.Errorf(api.CodeInvalid, "%s: reading %s: %v", what, path, err)
		}
		vol := volume.Volume{Name: v.Name, Role: volume.Role(v.Role), Size: src.Size(), Source: path, Format: src.Format()}
		src.Close()
		if vol.Size == 0 {
			return volume.VG{}, nil, api.Errorf(api.CodeInvalid, "%s: %s is empty (0 bytes); a volume needs data", what, path)
		}
		if w := formatMismatch(path, vol.Format); w != "" {
			warnings = append(warnings, w)
		}
		vg.Volumes = append(vg.Volumes, vol)
	}
	if boots != 1 {
		return volume.VG{}, nil, api.Errorf(api.CodeInvalid, "volume group %q: %d boot volumes, want exactly one", req.Name, boots)
	}
	if e := checkNBDOptions(req, nbdVolumes); e != nil {
		return volume.VG{}, nil, e
	}
	if req.PreSnapshot != "" || req.PostSnapshot != "" || req.HookTimeout != "" {
		h := &volume.Hooks{Pre: req.PreSnapshot, Post: req.PostSnapshot}
		if req.HookTimeout != "" {
			d, err := time.ParseDuration(req.HookTimeout)
			if err != nil {
				return volume.VG{}, nil, api.Errorf(api.CodeInvalid, "volume group %q: hook timeout %q: %v", req.Name, req.HookTimeout, err)
			}
			h.Timeout = volume.Duration(d)
		}
		if err := h.Validate(); err != nil {
			return volume.VG{}, nil, api.Errorf(api.CodeInvalid, "volume group %q: %v", req.Name, err)
		}
		vg.Hooks = h
	}
	if req.LVMSnapshot {
		vg.LVMSnapshot = &volume.LVMSnapshot{}
	}
	return vg, warnings, nil
}

// extFormats maps image file extensions to the format they promise.
var extFormats = map[string]string{".qcow2": "qcow2", ".qcow": "qcow2", ".vmdk": "vmdk", ".vhdx": "vhdx",
	".img": "raw", ".raw": "raw"}

// formatMismatch says, when path's extension names another format than
// the one detected from its content, what the daemon does about it.
func formatMismatch(path, detected string) string {
	want, ok := extFormats[strings.ToLower(filepath.Ext(path))]
	if !ok || want == detected || detected == "block" {
		return ""
	}
	return fmt.Sprintf("%s is not a %s image (detected %s); reading it as %s", filepath.Base(path), want, detected, detected)
}

func (s *Server) deleteVG(w http.ResponseWriter, r *http.Request) error {
	vg, err := s.lookupVG(r)
	if err != nil {
		return err
	}
	force := r.URL.Query().Get("force") == "true"
	unlock, e := s.writers.tryLock(vg.ID, vg.Name, "a delete")
	if e != nil {
		return e
	}
	defer unlock()
	if err := s.cat.DeleteVG(r.Context(), vg.ID, force); err != nil {
		return err
	}
	s.log.Info("volume group deleted", "vg", vg.Name, "id", vg.ID, "force", force)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
