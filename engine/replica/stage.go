package replica

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/zeebo/blake3"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/internal/durable"
	"github.com/vmrep/vmrep/internal/vfs"
)

// stagePath is where apply keeps the copy sources of a volume that this
// delta also overwrites. A copy must read base bytes; when its source is a
// range the delta writes, those bytes are gone once that write happens, and
// after a kill the re-run could not read them again. So they are saved
// before the journal is written and kept until the apply is finished.
func stagePath(dir, volumeID string) string {
	return filepath.Join(dir, "staging-"+volumeID+".copy")
}

// stageCopies assigns stage offsets to the copies of selected volumes whose
// sources meet a range the delta writes, then opens each volume's stage:
// the one an interrupted apply of this delta left (checked against the
// journal's hash), or a new one read from the replica, still at the base.
// It returns the open stages, per volume, and records new stage hashes in
// next.
func stageCopies(ctx context.Context, fsys vfs.FS, dir string, vols []*applyVol, p *plan, jr, next *journal) ([]vfs.File, error) {
	stages := make([]vfs.File, len(vols))
	sizes := make([]int64, len(vols))
	for i := range p.copies {
		c := &p.copies[i]
		if vols[c.vol] != nil && p.overlapsDest(c.vol, c.src, c.n) {
			c.stagedAt = sizes[c.vol]
			sizes[c.vol] += c.n
		}
	}
	fail := func(err error) ([]vfs.File, error) {
		closeStages(stages)
		return nil, err
	}
	for vi, v := range vols {
		if v == nil || sizes[vi] == 0 {
			continue
		}
		path := stagePath(dir, v.vh.ID)
		if jr.covers(v.vh.ID) {
			f, err := openStage(ctx, fsys, path, sizes[vi], jr.Stages[v.vh.ID])
			if err != nil {
				return fail(fmt.Errorf("volume %q: %w", v.vh.Name, err))
			}
			stages[vi] = f
			next.setStage(v.vh.ID, jr.Stages[v.vh.ID])
			continue
		}
		f, sum, err := writeStage(ctx, fsys, path, v, p, vi)
		if err != nil {
			return fail(fmt.Errorf("volume %q: stage copy sources: %w", v.vh.Name, err))
		}
		stages[vi] = f
		next.setStage(v.vh.ID, sum)
	}
	return stages, nil
}

func closeStages(stages []vfs.File) {
	for _, f := range stages {
		if f != nil {
			f.Close()
		}
	}
}

// openStage opens an existing stage and checks its size and hash.
func openStage(ctx context.Context, fsys vfs.FS, path string, size int64, want blob.ID) (vfs.File, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the interrupted apply's copy stage: %w", err)
	}
	h := blake3.New()
	n, err := io.Copy(h, ctxReader{ctx, f})
	var got blob.ID
	h.Sum(got[:0])
	if err == nil && (n != size || got != want) {
		err = fmt.Errorf("%s does not hold what the journal names", path)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// writeStage copies volume vi's staged sources from the replica into a new
// stage file: temp, fsync, rename, directory fsync.
func writeStage(ctx context.Context, fsys vfs.FS, path string, v *applyVol, p *plan, vi int) (vfs.File, blob.ID, error) {
	var sum blob.ID
	tmp, err := durable.Create(fsys, path, durable.Options{Pattern: ".staging-*", KeepOpen: true})
	if err != nil {
		return nil, sum, err
	}
	h := blake3.New()
	var buf []byte
	for i := range p.copies {
		c := &p.copies[i]
		if c.vol != vi || c.stagedAt < 0 {
			continue
		}
		if err = ctx.Err(); err != nil {
			break
		}
		buf = grow(buf, c.n)
		if err = readRange(v.f, buf, c.src); err != nil {
			break
		}
		h.Write(buf)
		if _, err = tmp.WriteAt(buf, c.stagedAt); err != nil {
			break
		}
	}
	if err == nil {
		err = tmp.Commit()
	}
	if err != nil {
		tmp.Close()
		return nil, sum, err
	}
	h.Sum(sum[:0])
	return tmp, sum, nil
}

// ctxReader stops a long read (a stage as large as the copies it holds)
// once ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// removeStages deletes the stages of volumes that are finished.
func removeStages(fsys vfs.FS, dir string, vols []*applyVol) {
	for _, v := range vols {
		if v != nil {
			fsys.Remove(stagePath(dir, v.vh.ID))
		}
	}
}
