package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/stackgen"
)

// generateStack writes an OpenTofu stack: the first one of a replica from
// a snapshot, or a delta stack from "base..target" and the delta file
// that moves a replica between them. The plan is built here, from the
// catalog and the delta's own header, so the stack names exactly what the
// store and the delta hold.
func (s *Server) generateStack(w http.ResponseWriter, r *http.Request) error {
	var req api.StackRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	if req.Target != stackgen.TargetLocal && req.Target != stackgen.TargetOCI {
		return api.Errorf(api.CodeInvalid, "stack target %q: want local or oci", req.Target)
	}
	baseRef, targetRef, isRange := strings.Cut(req.Snapshot, "..")
	switch {
	case isRange && req.Delta == "":
		return api.Errorf(api.CodeInvalid, "a stack for %s needs the delta between them", req.Snapshot)
	case !isRange && req.Delta != "":
		return api.Errorf(api.CodeInvalid, "a delta stack needs BASE..TARGET, not %q", req.Snapshot)
	}
	if e := s.checkDir("stack", req.Out, false); e != nil {
		return e
	}
	var plan stackgen.Plan
	res := api.StackResult{Out: req.Out, Target: req.Target}
	if !isRange {
		_, sn, err := s.resolveRef(r, "snapshot", req.Snapshot)
		if err != nil {
			return err
		}
		plan = stackgen.Plan{VGID: sn.VGID, VGName: sn.VGName, Snapshot: toStackSnapshot(sn), Ref: req.Snapshot}
		res.Snapshot = sn.Name()
	} else {
		if !strings.Contains(targetRef, "@") { // "web@1..2"
			vg, _, _ := strings.Cut(baseRef, "@")
			targetRef = vg + "@" + targetRef
		}
		base, target, err := s.resolvePair(r, baseRef, targetRef)
		if err != nil {
			return err
		}
		if e := s.checkInput("delta", req.Delta); e != nil {
			return e
		}
		d, e, err := s.stackDelta(r.Context(), req.Delta, base, target)
		if err != nil {
			return err
		}
		if e != nil {
			return e
		}
		bs := toStackSnapshot(base)
		plan = stackgen.Plan{VGID: target.VGID, VGName: target.VGName, Snapshot: toStackSnapshot(target),
			Base: &bs, Delta: d, Ref: req.Snapshot}
		res.Snapshot, res.Base, res.DeltaDigest = target.Name(), base.Name(), d.Digest
	}
	if err := stackgen.Write(req.Out, plan, req.Target); err != nil {
		return err
	}
	files, err := stackFiles(req.Out)
	if err != nil {
		return err
	}
	res.Files = files
	s.log.Info("stack generated", "out", req.Out, "target", req.Target, "snapshot", req.Snapshot)
	writeJSON(w, http.StatusOK, res)
	return nil
}

// stackDelta reads the delta's header and checks it moves base to target.
func (s *Server) stackDelta(ctx context.Context, path string, base, target volume.Snapshot) (*stackgen.Delta, *api.Error, error) {
	info, h, err := describeDelta(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	if h.VGID != target.VGID || h.Base.ID != base.ID || h.Target.ID != target.ID {
		return nil, api.Errorf(api.CodeInvalid, "delta %s moves %s@%d to %s@%d, not %s to %s",
			path, h.VGName, h.Base.Seq, h.VGName, h.Target.Seq, base.Name(), target.Name()), nil
	}
	files, err := deltaFileSums(path, h)
	if err != nil {
		return nil, nil, err
	}
	d := &stackgen.Delta{File: path, Digest: info.Digest, Size: info.FileBytes,
		BaseSnapshotID: base.ID, TargetSnapshotID: target.ID, Files: files}
	// Every volume of the header, unchanged ones too: applying them moves
	// their state forward, which the next delta's base check needs.
	for _, v := range info.Volumes {
		d.Volumes = append(d.Volumes, stackgen.DeltaVolume{VolumeID: v.ID, ChangedBytes: v.DataBytes + v.ZeroBytes + v.CopyBytes + v.TargetCopyBytes,
			OldSize: v.BaseSize, NewSize: v.TargetSize, Added: v.Added})
	}
	return d, nil, nil
}

// deltaFileSums is the SHA-256 of every file of a delta, which a local
// stack compares at plan time: the file itself, or a split delta's index
// and each part it names.
func deltaFileSums(path string, h *delta.Header) ([]stackgen.DeltaFile, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("hash delta %s: %w", path, err)
	}
	names := []string{""}
	if fi.IsDir() {
		names = []string{delta.IndexName}
		for _, p := range h.Parts {
			names = append(names, p.File)
		}
	}
	out := make([]stackgen.DeltaFile, len(names))
	for i, n := range names {
		sum, err := fileSHA256(filepath.Join(path, n))
		if err != nil {
			return nil, fmt.Errorf("hash delta %s: %w", path, err)
		}
		out[i] = stackgen.DeltaFile{Name: n, SHA256: sum}
	}
	return out, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func toStackSnapshot(sn volume.Snapshot) stackgen.Snapshot {
	out := stackgen.Snapshot{ID: sn.ID, Seq: sn.Seq, Created: sn.Created, Volumes: make([]stackgen.Volume, len(sn.Volumes))}
	for i, v := range sn.Volumes {
		out.Volumes[i] = stackgen.Volume{ID: v.VolumeID, Name: v.Name, Role: string(v.Role), Size: v.Size,
			Manifest: v.Manifest.String()}
	}
	return out
}

// stackFiles lists the files a stack directory holds, leaving out tofu's
// own (.terraform, state).
func stackFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && !strings.HasPrefix(n, ".") && !strings.HasPrefix(n, "terraform.tfstate") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}
