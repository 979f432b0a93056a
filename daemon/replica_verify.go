package daemon

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/source"
)

// verifyReplica starts a job that reads every volume file of a replica and
// compares it with the snapshot its state file names.
func (s *Server) verifyReplica(w http.ResponseWriter, r *http.Request) error {
	req, err := s.replicaDirRequest(w, r)
	if err != nil {
		return err
	}
	// Under the replica's lock: an apply running meanwhile would show as
	// damage.
	unlock, e := s.replicas.tryLock(req.Dir, "a replica verify")
	if e != nil {
		return e
	}
	return s.startJob(w, r, api.JobReplicaVerify, req.Dir, func(ctx context.Context, j *job) (any, error) {
		return s.runVerifyReplica(ctx, j, req.Dir)
	}, unlock)
}

func (s *Server) runVerifyReplica(ctx context.Context, j *job, dir string) (any, error) {
	j.progress("verify", 0, 0, "")
	st, checks, err := replica.VerifyReplica(ctx, dir, replica.VerifyReplicaOptions{
		Snapshot: func(vgID string, v replica.VolumeState) (blob.ID, bool) { return s.replicaManifest(ctx, vgID, v) },
		Blobs:    s.store,
		Rechunk:  s.rechunk,
		Progress: func(done, total int64) { j.progress("verify", done, total, "") },
	})
	if err != nil {
		return nil, err
	}
	res := api.ReplicaVerifyResult{Dir: dir, VGID: st.VGID, VGName: st.VGName, OK: true,
		Volumes: make([]api.ReplicaCheck, len(checks))}
	var bad []replica.VolumeCheck
	for i, c := range checks {
		res.Volumes[i] = api.ReplicaCheck{ID: c.ID, Name: c.Name, File: c.File, SnapshotID: c.SnapshotID,
			Seq: c.Seq, Against: c.Against, OK: c.OK, MismatchOffset: c.MismatchOffset,
			MismatchLength: c.MismatchLength, Mismatches: c.Mismatches, Problem: c.Problem}
		if !c.OK {
			res.OK = false
			bad = append(bad, c)
		}
	}
	if len(bad) > 0 {
		return res, api.Errorf(api.CodeCorrupt, "replica %s: %d of %d volumes differ from the snapshot %s names; first: volume %q: %s",
			dir, len(bad), len(checks), replica.StateName, bad[0].Name, bad[0].Problem)
	}
	return res, nil
}

// replicaManifest finds the snapshot a replica volume names in the catalog
// and returns the snapshot's manifest for the volume; false when the
// snapshot is gone (deleted, or the replica came from another store).
func (s *Server) replicaManifest(ctx context.Context, vgID string, v replica.VolumeState) (blob.ID, bool) {
	sn, err := s.cat.GetSnapshot(ctx, vgID, v.Seq)
	if err != nil || sn.ID != v.SnapshotID {
		return blob.ID{}, false
	}
	vs, ok := sn.Volume(v.ID)
	return vs.Manifest, ok
}

// rechunk computes the manifest ID of size bytes of r with the chunker
// parameters p (nil: the store's), storing nothing: what the fallback of a
// replica verify compares with state.json.
func (s *Server) rechunk(ctx context.Context, r io.ReaderAt, size int64, p *blob.ChunkerParams, done func(int64)) (blob.ID, error) {
	ing := s.ingest
	if p != nil {
		var err error
		if ing, err = ing.WithChunker(*p); err != nil {
			return blob.ID{}, fmt.Errorf("chunker parameters in %s: %w", replica.StateName, err)
		}
	}
	var last int64
	st, err := ing.Volume(ctx, discardBlobs{}, &sizedSource{r: r, size: size}, ingest.Options{
		Progress: func(p ingest.Progress) {
			done(p.Done - last)
			last = p.Done
		},
	})
	if err != nil {
		return blob.ID{}, fmt.Errorf("chunk the volume again: %w", err)
	}
	return st.ID, nil
}

// discardBlobs is a BlobWriter that keeps nothing: chunking a volume again
// needs only the IDs of its chunks and pages.
type discardBlobs struct{}

func (discardBlobs) Put(context.Context, blob.Type, blob.ID, []byte) (bool, error) {
	return true, nil
}
func (discardBlobs) Flush(context.Context) error { return nil }

// sizedSource reads the first size bytes of a replica volume (a file, or a
// block device that may be larger) as a raw source. It never detects a
// format: the replica holds the volume's bytes, whatever they look like.
type sizedSource struct {
	r    io.ReaderAt
	size int64
}

var _ source.Reader = (*sizedSource)(nil)

func (s *sizedSource) Size() int64    { return s.size }
func (s *sizedSource) Format() string { return "raw" }
func (s *sizedSource) Close() error   { return nil }

func (s *sizedSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), s.size-off)
	n, err := s.r.ReadAt(p[:want], off)
	if int64(n) == want {
		err = nil
		if want < int64(len(p)) {
			err = io.EOF
		}
	} else if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF // the file shrank under us
	}
	return n, err
}

func (s *sizedSource) Allocated(ctx context.Context, fn func(source.Range) error) error {
	if s.size == 0 {
		return nil
	}
	return fn(source.Range{Off: 0, Len: s.size})
}

// chunkerParams are the store's chunker parameters, which replicas this
// daemon writes record in their state.
func (s *Server) chunkerParams() *blob.ChunkerParams {
	p := s.store.Config().Chunker
	return &p
}
