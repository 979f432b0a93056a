package replica

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/source"
)

// Rechunk computes the manifest ID of size bytes of r cut with the chunker
// parameters p, storing nothing: what a replica verify without the
// snapshot compares with state.json. It is a Rechunker; vmrepd and an
// in-process `vmrep replica verify` both use it. A nil p (a replica
// written before state.json recorded them) is refused: only a store knows
// which parameters it used.
func Rechunk(ctx context.Context, r io.ReaderAt, size int64, p *blob.ChunkerParams, done func(int64)) (blob.ID, error) {
	if p == nil {
		return blob.ID{}, errors.New(StateName + " records no chunker parameters (written before they were recorded): verify it with vmrepd, which knows its store's")
	}
	ing, err := ingest.New(*p, nil)
	if err != nil {
		return blob.ID{}, fmt.Errorf("chunker parameters in %s: %w", StateName, err)
	}
	var last int64
	st, err := ing.Volume(ctx, discardBlobs{}, &sizedSource{r: r, size: size}, ingest.Options{
		Progress: func(p ingest.Progress) {
			if done != nil {
				done(p.Done - last)
			}
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
