package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/zeebo/blake3"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/volume"
)

// maxPartSize bounds --part-size; minPartSize keeps a split delta from
// turning into one file per record.
const (
	minPartSize = 1 << 20
	maxPartSize = 1 << 40
)

// exportDelta starts a job that writes the delta between two snapshots to
// a file or, split, to a directory.
func (s *Server) exportDelta(w http.ResponseWriter, r *http.Request) error {
	var req api.DeltaExportRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	base, target, err := s.resolvePair(r, req.Base, req.Target)
	if err != nil {
		return err
	}
	var e *api.Error
	switch {
	case !req.Split && req.PartSize != 0:
		e = api.Errorf(api.CodeInvalid, "a part size needs a split delta")
	case req.Split && req.PartSize != 0 && (req.PartSize < minPartSize || req.PartSize > maxPartSize):
		e = api.Errorf(api.CodeInvalid, "part size %d is out of range [%d, %d]", req.PartSize, minPartSize, int64(maxPartSize))
	case req.Split:
		e = s.checkDir("delta output", req.Output, false)
	default:
		e = s.checkOutput(req.Output)
	}
	if e == nil && !req.Force {
		e = refuseOverwrite("delta output", req.Output)
	}
	if e != nil {
		return e
	}
	target2 := fmt.Sprintf("%s..%s", base.Name(), target.Name())
	return s.startJob(w, r, api.JobDeltaExport, target2, func(ctx context.Context, j *job) (any, error) {
		return s.runExportDelta(ctx, j, base, target, req)
	}, nil)
}

func (s *Server) runExportDelta(ctx context.Context, j *job, base, target volume.Snapshot, req api.DeltaExportRequest) (any, error) {
	sink := delta.FileSink(req.Output)
	if req.Split {
		sink = delta.SplitSink(req.Output, req.PartSize)
	}
	j.progress("export", 0, 0, "")
	sum, err := build.Export(ctx, s.store, base, target, sink, build.ExportOptions{})
	if err != nil {
		return nil, err
	}
	j.progress("digest", 0, sum.FileBytes, "")
	digest, _, err := deltaDigest(req.Output)
	if err != nil {
		return nil, err
	}
	j.progress("export", sum.FileBytes, sum.FileBytes, "wrote "+req.Output)
	return api.DeltaExportResult{Base: base.Name(), Target: target.Name(), Output: req.Output, Split: req.Split,
		Digest: digest, Summary: toAPISummary(sum)}, nil
}

// refuseOverwrite refuses an output that exists: a file or device, or a
// directory that is not empty. --force (the request's Force) allows it.
func refuseOverwrite(what, p string) *api.Error {
	fi, err := os.Stat(p)
	if err != nil || (fi.IsDir() && !hasEntries(p)) {
		return nil
	}
	return api.Errorf(api.CodeExists, "%s %s already exists; overwrite it with --force", what, p)
}

// parseVerify maps the wire name of a verify level.
func parseVerify(v string) (replica.Verify, *api.Error) {
	switch v {
	case "", api.VerifyNone:
		return replica.VerifyNone, nil
	case api.VerifyExtents:
		return replica.VerifyExtents, nil
	case api.VerifyFull:
		return replica.VerifyFull, nil
	}
	return 0, api.Errorf(api.CodeInvalid, "verify %q: want none, extents or full", v)
}

// applyDelta starts a job that moves a replica forward with a delta.
func (s *Server) applyDelta(w http.ResponseWriter, r *http.Request) error {
	var req api.DeltaApplyRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	ver, e := parseVerify(req.Verify)
	if e == nil {
		e = s.checkInput("delta", req.Delta)
	}
	if e == nil {
		e = s.checkDir("replica", req.Replica, true)
	}
	if e == nil {
		e = s.cutovers.refuseLive(req.Replica)
	}
	if e != nil {
		return e
	}
	unlock, e := s.replicas.tryLock(req.Replica, "a delta apply")
	if e != nil {
		return e
	}
	return s.startJob(w, r, api.JobDeltaApply, req.Delta+" to "+req.Replica, func(ctx context.Context, j *job) (any, error) {
		return s.runApplyDelta(ctx, j, req, ver)
	}, unlock)
}

func (s *Server) runApplyDelta(ctx context.Context, j *job, req api.DeltaApplyRequest, ver replica.Verify) (any, error) {
	j.progress("open", 0, 0, "checking "+req.Delta)
	rd, err := openDelta(ctx, req.Delta)
	if err != nil {
		return nil, err
	}
	j.progress("apply", 0, 0, "")
	sum, err := replica.Apply(ctx, rd, req.Replica, replica.ApplyOptions{Volume: req.Volume, Verify: ver, Blobs: s.store,
		Chunker: s.chunkerParams()})
	if err != nil {
		return nil, err
	}
	st, err := replica.ReadState(ctx, req.Replica)
	if err != nil {
		return nil, err
	}
	s.known.replicaWritten(req.Replica, st)
	j.progress("apply", sum.Records, sum.Records, fmt.Sprintf("wrote %d records, skipped %d", sum.Written, sum.Skipped))
	return api.DeltaApplyResult{Delta: req.Delta, Summary: toAPISummary(sum), Replica: toAPIReplica(req.Replica, st)}, nil
}

// showDelta opens a delta (which checks every checksum) and sums up its
// records per volume.
func (s *Server) showDelta(w http.ResponseWriter, r *http.Request) error {
	var req api.DeltaShowRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	if e := s.checkInput("delta", req.Delta); e != nil {
		return e
	}
	info, _, err := describeDelta(r.Context(), req.Delta)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

// describeDelta opens the delta at path and returns what show prints, and
// its header.
func describeDelta(ctx context.Context, path string) (api.DeltaInfo, *delta.Header, error) {
	rd, err := openDelta(ctx, path)
	if err != nil {
		return api.DeltaInfo{}, nil, err
	}
	h := &rd.Header
	info := api.DeltaInfo{Path: path, VGID: h.VGID, VGName: h.VGName, BaseID: h.Base.ID, BaseSeq: h.Base.Seq,
		TargetID: h.Target.ID, TargetSeq: h.Target.Seq, Volumes: make([]api.DeltaVolume, len(h.Volumes))}
	for i, v := range h.Volumes {
		dv := api.DeltaVolume{ID: v.ID, Name: v.Name, Role: string(v.Role), Added: v.Added, BaseSize: v.BaseSize,
			TargetManifest: v.TargetManifest.String(), TargetSize: v.TargetSize}
		if !v.Added {
			dv.BaseManifest = v.BaseManifest.String()
		}
		info.Volumes[i] = dv
	}
	for _, p := range h.Parts {
		info.Parts = append(info.Parts, api.DeltaPart{File: p.File, Volume: p.Volume, Size: p.Size,
			Records: p.Records, BLAKE3: p.BLAKE3.String()})
	}
	err = rd.Walk(ctx, false, func(rec *delta.Record) error {
		if rec.Volume < 0 || rec.Volume >= len(info.Volumes) {
			return fmt.Errorf("%w: record names volume %d of %d", delta.ErrFormat, rec.Volume, len(info.Volumes))
		}
		v := &info.Volumes[rec.Volume]
		v.Records++
		if rec.Kind == delta.KindData {
			v.DataBytes += rec.Len
			v.StoredBytes += int64(len(rec.Stored))
		} else {
			v.ZeroBytes += rec.Len
		}
		return nil
	})
	if err != nil {
		return api.DeltaInfo{}, nil, fmt.Errorf("read delta %s: %w", path, err)
	}
	info.Digest, info.FileBytes, err = deltaDigest(path)
	if err != nil {
		return api.DeltaInfo{}, nil, err
	}
	info.Split = len(h.Parts) > 0
	return info, h, nil
}

// deltaDigest is the BLAKE3 of a delta file, or of the index of a split
// delta (which names each part by its own BLAKE3), and the delta's size on
// disk.
func deltaDigest(path string) (string, int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", 0, fmt.Errorf("digest of delta %s: %w", path, err)
	}
	file, size := path, fi.Size()
	if fi.IsDir() {
		file, size = filepath.Join(path, delta.IndexName), 0
		ents, err := os.ReadDir(path)
		if err != nil {
			return "", 0, fmt.Errorf("digest of delta %s: %w", path, err)
		}
		for _, e := range ents {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
				size += info.Size()
			}
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return "", 0, fmt.Errorf("digest of delta %s: %w", path, err)
	}
	defer f.Close()
	h := blake3.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", 0, fmt.Errorf("digest of delta %s: %w", file, err)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), size, nil
}

func toAPISummary(s delta.Summary) api.DeltaSummary {
	return api.DeltaSummary{Volumes: s.Volumes, Records: s.Records, DataBytes: s.DataBytes, ZeroBytes: s.ZeroBytes,
		StoredBytes: s.StoredBytes, FileBytes: s.FileBytes, Written: s.Written, Skipped: s.Skipped,
		ChangedBytes: s.ChangedBytes, Verified: s.Verified}
}

// openDelta opens a delta a caller named. A path that is neither a delta
// file nor a split delta's directory is the caller's mistake, not the
// daemon's: an invalid request, not an internal error.
func openDelta(ctx context.Context, path string) (*delta.Reader, error) {
	rd, err := delta.Open(ctx, path)
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		return nil, api.Errorf(api.CodeInvalid, "%s is not a delta file or a split delta's directory: %v", path, err)
	}
	return rd, err
}
