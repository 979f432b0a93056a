package delta

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/volume"
)

// prepass hashes the replica's bytes of every record's range and returns,
// per record, whether to write it. Nothing is written here. A range that
// matches neither hash is refused, unless jr (the journal of an earlier,
// interrupted apply of this same delta) lists its volume: then it is a
// write cut short, and the record's full target bytes repair it.
func prepass(ctx context.Context, rd *Reader, vols []*applyVol, jr *journal, sum *Summary) ([]bool, error) {
	var write []bool
	var buf []byte
	err := rd.Walk(ctx, false, func(r *Record) error {
		v := vols[r.Volume]
		if v == nil {
			write = append(write, false)
			return nil
		}
		sum.add(r)
		buf = grow(buf, r.Len)
		if err := readRange(v.f, buf, r.Off); err != nil {
			return fmt.Errorf("volume %q at %d: %w", v.vh.Name, r.Off, err)
		}
		switch h := cas.Sum(buf); {
		case h == r.TargetHash:
			sum.Skipped++
			write = append(write, false)
		case r.NoBase || h == r.BaseHash:
			sum.Written++
			write = append(write, true)
		case jr.covers(v.vh.ID):
			sum.Written++
			sum.Repaired++
			write = append(write, true)
		default:
			return fmt.Errorf("%w: volume %q bytes %d+%d match neither the base nor the target; nothing was written",
				ErrNotBase, v.vh.Name, r.Off, r.Len)
		}
		return nil
	})
	return write, err
}

// writeRecords grows files, writes the records the prepass chose, shrinks
// files and syncs them.
func writeRecords(ctx context.Context, rd *Reader, vols []*applyVol, write []bool) error {
	for _, v := range vols {
		if v != nil && !v.block {
			if fi, err := v.f.Stat(); err != nil {
				return err
			} else if fi.Size() < v.vh.TargetSize {
				if err := v.f.Truncate(v.vh.TargetSize); err != nil {
					return fmt.Errorf("grow volume %q: %w", v.vh.Name, err)
				}
			}
		}
	}
	i := 0
	err := rd.Walk(ctx, true, func(r *Record) error {
		do := write[i]
		i++
		if !do {
			return nil
		}
		v := vols[r.Volume]
		var err error
		if r.Kind == KindData {
			_, err = v.f.WriteAt(r.Data, r.Off)
		} else {
			err = v.t.Zero(r.Off, r.Len)
		}
		if err != nil {
			return fmt.Errorf("volume %q at %d: %w", v.vh.Name, r.Off, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, v := range vols {
		if v == nil {
			continue
		}
		if !v.block {
			if err := v.f.Truncate(v.vh.TargetSize); err != nil {
				return fmt.Errorf("resize volume %q: %w", v.vh.Name, err)
			}
		}
		if err := v.f.Sync(); err != nil {
			return fmt.Errorf("sync volume %q: %w", v.vh.Name, err)
		}
	}
	return nil
}

func verify(ctx context.Context, rd *Reader, vols []*applyVol, opts ApplyOptions) error {
	if opts.Verify == VerifyNone {
		return nil
	}
	var buf []byte
	err := rd.Walk(ctx, false, func(r *Record) error {
		v := vols[r.Volume]
		if v == nil {
			return nil
		}
		buf = grow(buf, r.Len)
		if err := readRange(v.f, buf, r.Off); err != nil {
			return err
		}
		if cas.Sum(buf) != r.TargetHash {
			return fmt.Errorf("volume %q bytes %d+%d differ from the target", v.vh.Name, r.Off, r.Len)
		}
		return nil
	})
	if err != nil || opts.Verify != VerifyFull {
		return err
	}
	if opts.Blobs == nil {
		return fmt.Errorf("full verify needs the target manifests (no blob reader given)")
	}
	for _, v := range vols {
		if v != nil {
			if err := verifyFull(ctx, opts.Blobs, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// verifyFull hashes every chunk range of the volume file against the
// target manifest and checks that holes read as zeros.
func verifyFull(ctx context.Context, r cas.BlobReader, v *applyVol) error {
	m, err := volume.LoadManifest(ctx, r, v.vh.TargetManifest)
	if err != nil {
		return err
	}
	var buf []byte
	return m.Walk(ctx, r, 0, func(off int64, e volume.Entry) error {
		for pos := off; pos < off+e.Length; {
			n := min(off+e.Length-pos, 4<<20)
			if !e.Hole {
				n = e.Length // one chunk is one blob: bounded by the blob limit
			}
			buf = grow(buf, n)
			if err := readRange(v.f, buf, pos); err != nil {
				return err
			}
			if e.Hole && !allZero(buf) {
				return fmt.Errorf("volume %q: hole at %d+%d holds data", v.vh.Name, off, e.Length)
			}
			if !e.Hole {
				if cas.Sum(buf) != e.ID {
					return fmt.Errorf("volume %q: chunk at %d (%s) differs", v.vh.Name, off, e.ID.Short())
				}
				break // chunks are at most 4 MiB: read in one piece
			}
			pos += n
		}
		return nil
	})
}
