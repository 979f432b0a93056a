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
	"github.com/vmrep/vmrep/internal/apiconv"
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
	digest, err := deltaDigest(req.Output)
	if err != nil {
		return nil, err
	}
	j.progress("export", sum.FileBytes, sum.FileBytes, "wrote "+req.Output)
	return api.DeltaExportResult{Base: base.Name(), Target: target.Name(), Output: req.Output, Split: req.Split,
		Digest: digest, Summary: apiconv.Summary(sum)}, nil
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
	rd, err := openDeltaForApply(ctx, req.Delta)
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
	return api.DeltaApplyResult{Delta: req.Delta, Summary: apiconv.Summary(sum), Replica: apiconv.Replica(req.Replica, st)}, nil
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
	info, err := apiconv.DeltaInfo(ctx, rd, path)
	if err != nil {
		return api.DeltaInfo{}, nil, err
	}
	return info, &rd.Header, nil
}

// deltaDigest is the BLAKE3 of a delta file, or of the index of a split
// delta (which names each part by its own BLAKE3).
func deltaDigest(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("digest of delta %s: %w", path, err)
	}
	file := path
	if fi.IsDir() {
		file = filepath.Join(path, delta.IndexName)
	}
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("digest of delta %s: %w", path, err)
	}
	defer f.Close()
	h := blake3.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("digest of delta %s: %w", file, err)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// openDelta opens a delta a caller named. A path that is neither a delta
// file nor a split delta's directory is the caller's mistake, not the
// daemon's: an invalid request, not an internal error.
func openDelta(ctx context.Context, path string) (*delta.Reader, error) {
	return openDeltaWith(ctx, path, delta.Open)
}

// openDeltaForApply is openDelta for an apply: a single file's checksums
// are checked by the apply, alongside its pre-pass (delta.OpenForApply).
func openDeltaForApply(ctx context.Context, path string) (*delta.Reader, error) {
	return openDeltaWith(ctx, path, delta.OpenForApply)
}

func openDeltaWith(ctx context.Context, path string, open func(context.Context, string) (*delta.Reader, error)) (*delta.Reader, error) {
	rd, err := open(ctx, path)
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		return nil, api.Errorf(api.CodeInvalid, "%s is not a delta file or a split delta's directory: %v", path, err)
	}
	return rd, err
}
