package replica

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/delta"
)

func verify(ctx context.Context, rd *delta.Reader, vols []*applyVol, opts ApplyOptions) error {
	if opts.Verify == VerifyNone {
		return nil
	}
	var buf []byte
	err := rd.WalkFrames(ctx, false, func(f *delta.Frame) error {
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
		if rd.FrameSum(buf) != f.TargetHash {
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
func verifyFull(ctx context.Context, r blob.Reader, v *applyVol) error {
	d, err := compareManifest(ctx, r, v.vh.TargetManifest, v.f, nil)
	if err != nil {
		return fmt.Errorf("volume %q: %w", v.vh.Name, err)
	}
	if d.Count > 0 {
		return fmt.Errorf("volume %q: %d ranges differ from the target, the first at offset %d (%d bytes)",
			v.vh.Name, d.Count, d.Off, d.Len)
	}
	return nil
}
