package delta

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/volume"
)

func verify(ctx context.Context, rd *Reader, vols []*applyVol, opts ApplyOptions) error {
	if opts.Verify == VerifyNone {
		return nil
	}
	var buf []byte
	err := rd.walkFrames(ctx, false, func(f *Frame) error {
		v := vols[f.Volume]
		if v == nil {
			return nil
		}
		buf = grow(buf, f.Span)
		at := int64(0)
		for i := range f.Recs {
			r := &f.Recs[i]
			if err := readRange(v.f, buf[at:at+r.Len], r.Off); err != nil {
				return err
			}
			at += r.Len
		}
		if frameSum(rd.version, buf) != f.TargetHash {
			return fmt.Errorf("volume %q: the frame at %d differs from the target", v.vh.Name, f.Recs[0].Off)
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
