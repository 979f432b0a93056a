package volume

import (
	"context"
	"errors"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"
)

// CheckProblem is one thing wrong with a snapshot: a manifest or page that
// does not load or does not add up, or a chunk the store lacks. ID names
// the blob concerned.
type CheckProblem struct {
	Snapshot string // "vg@seq"
	Volume   string
	ID       blob.ID
	Err      error
}

func (p CheckProblem) Error() string {
	if p.Volume == "" {
		return fmt.Sprintf("snapshot %s: %v", p.Snapshot, p.Err)
	}
	return fmt.Sprintf("snapshot %s volume %q: %v", p.Snapshot, p.Volume, p.Err)
}

// pageCounts are a checked page's sums, kept so a page shared by many
// snapshots is read and its chunks looked up once.
type pageCounts struct{ chunks, holes, data int64 }

// CheckSnapshots checks every snapshot record in the catalog: its VG record
// exists and holds each of its volumes (same ID, name and role), each manifest loads,
// its size matches the record, each page holds what the top page says, the
// counts match the record, and the store has every chunk. Problems are
// returned, not errors; the error is for a catalog that cannot be read or a
// cancelled context. progress, if not nil, is called after each volume.
func CheckSnapshots(ctx context.Context, c *Catalog, r blob.Reader, progress func(done, total int)) ([]CheckProblem, error) {
	snaps, vgs, err := c.snapshotsByVG(ctx)
	if err != nil {
		return nil, fmt.Errorf("check snapshots: %w", err)
	}
	total := 0
	for _, s := range snaps {
		total += len(s.Volumes)
	}
	ck := checker{r: r, okPages: make(map[blob.ID]pageCounts)}
	done := 0
	for _, s := range snaps {
		vg, ok := vgs[s.VGID]
		if !ok {
			ck.problems = append(ck.problems, CheckProblem{Snapshot: s.Name(),
				Err: fmt.Errorf("its volume group record %s is missing", s.VGID)})
		}
		for _, v := range s.Volumes {
			if err := ctx.Err(); err != nil {
				return ck.problems, err
			}
			if p := snapshotVolumeProblem("its volume group", vg, v); ok && p != "" {
				ck.problems = append(ck.problems, CheckProblem{Snapshot: s.Name(), Volume: v.Name, Err: errors.New(p)})
			}
			if err := ck.volume(ctx, s.Name(), v); err != nil {
				return ck.problems, err
			}
			done++
			if progress != nil {
				progress(done, total)
			}
		}
	}
	return ck.problems, nil
}

type checker struct {
	r        blob.Reader
	okPages  map[blob.ID]pageCounts
	problems []CheckProblem
	page     Page
	buf      []byte
}

// volume checks one volume's manifest; it returns an error only when the
// context ends.
func (ck *checker) volume(ctx context.Context, snap string, v VolumeSnapshot) error {
	report := func(id blob.ID, err error) {
		ck.problems = append(ck.problems, CheckProblem{Snapshot: snap, Volume: v.Name, ID: id, Err: err})
	}
	m, err := LoadManifest(ctx, ck.r, v.Manifest)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		report(v.Manifest, err)
		return nil
	}
	if m.Size != v.Size {
		report(v.Manifest, fmt.Errorf("manifest %s covers %d bytes, record says %d", m.ID.Short(), m.Size, v.Size))
	}
	var sum pageCounts
	complete := true
	for i, ref := range m.Pages {
		pc, ok := ck.okPages[ref.ID]
		if !ok {
			pc, ok, err = ck.checkPage(ctx, m, i, report)
			if err != nil {
				return err
			}
		}
		complete = complete && ok
		sum.chunks += pc.chunks
		sum.holes += pc.holes
		sum.data += pc.data
	}
	if complete && (sum.chunks != v.Chunks || sum.holes != v.Holes || sum.data != v.DataBytes) {
		report(v.Manifest, fmt.Errorf("manifest %s holds %d chunks, %d holes, %d data bytes; record says %d, %d, %d",
			m.ID.Short(), sum.chunks, sum.holes, sum.data, v.Chunks, v.Holes, v.DataBytes))
	}
	return nil
}

// checkPage loads page i and looks up its chunks. ok is false when a
// problem was reported.
func (ck *checker) checkPage(ctx context.Context, m *Manifest, i int, report func(blob.ID, error)) (pc pageCounts, ok bool, err error) {
	ref := m.Pages[i]
	ck.buf, err = m.LoadPageInto(ctx, ck.r, i, &ck.page, ck.buf)
	if err != nil {
		if ctx.Err() != nil {
			return pc, false, ctx.Err()
		}
		report(ref.ID, err)
		return pc, false, nil
	}
	ok = true
	for j, e := range ck.page.Entries {
		if e.Hole {
			pc.holes++
			continue
		}
		pc.chunks++
		pc.data += e.Length
		has, err := ck.r.Has(ctx, e.ID)
		if err == nil && !has {
			err = &blob.Error{ID: e.ID, Type: blob.Chunk, Err: blob.ErrNotFound}
		}
		if err != nil {
			if ctx.Err() != nil {
				return pc, false, ctx.Err()
			}
			ok = false
			report(e.ID, fmt.Errorf("chunk at offset %d: %w", ck.page.Offsets[j], err))
		}
	}
	if ok {
		ck.okPages[ref.ID] = pc
	}
	return pc, ok, nil
}
