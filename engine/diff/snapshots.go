package diff

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// Change says what happened to a volume between two snapshots.
type Change string

const (
	Unchanged Change = "unchanged"
	Modified  Change = "modified"
	Added     Change = "added"   // only in the target: the whole volume is new
	Removed   Change = "removed" // only in the base: no extents
)

// VolumeDiff is one volume's part of a snapshot comparison. Base is the zero
// value for an added volume, Target for a removed one.
type VolumeDiff struct {
	VolumeID string                `json:"volume_id"`
	Name     string                `json:"name"`
	Change   Change                `json:"change"`
	Base     volume.VolumeSnapshot `json:"base"`
	Target   volume.VolumeSnapshot `json:"target"`
	Extents  []Extent              `json:"extents"`
	Stats    Stats                 `json:"stats"`
}

// Grown reports whether the target is larger than the base.
func (d *VolumeDiff) Grown() bool { return d.Stats.TargetSize > d.Stats.BaseSize }

// Shrunk reports whether the target is smaller than the base.
func (d *VolumeDiff) Shrunk() bool {
	return d.Change == Modified && d.Stats.TargetSize < d.Stats.BaseSize
}

// Snapshots compares every volume of target with the volume of base that
// has the same volume ID, in the target's order, followed by volumes only
// the base has.
func Snapshots(ctx context.Context, r blob.Reader, base, target volume.Snapshot, opts Options) ([]VolumeDiff, error) {
	var out []VolumeDiff
	for _, tv := range target.Volumes {
		bv, inBase := findVolume(base, tv.VolumeID)
		d := VolumeDiff{VolumeID: tv.VolumeID, Name: tv.Name, Target: tv, Change: Modified}
		var am *volume.Manifest
		if inBase {
			d.Base = bv
			m, err := volume.LoadManifest(ctx, r, bv.Manifest)
			if err != nil {
				return nil, fmt.Errorf("diff %s volume %q: base: %w", base.Name(), bv.Name, err)
			}
			am = m
		} else {
			d.Change = Added
		}
		bm, err := volume.LoadManifest(ctx, r, tv.Manifest)
		if err != nil {
			return nil, fmt.Errorf("diff %s volume %q: target: %w", target.Name(), tv.Name, err)
		}
		d.Extents, d.Stats, err = Volumes(ctx, r, am, bm, opts)
		if err != nil {
			return nil, fmt.Errorf("diff %s..%s volume %q: %w", base.Name(), target.Name(), tv.Name, err)
		}
		if inBase && len(d.Extents) == 0 && d.Stats.BaseSize == d.Stats.TargetSize {
			d.Change = Unchanged
		}
		out = append(out, d)
	}
	for _, bv := range base.Volumes {
		if _, ok := findVolume(target, bv.VolumeID); !ok {
			out = append(out, VolumeDiff{VolumeID: bv.VolumeID, Name: bv.Name, Change: Removed, Base: bv,
				Stats: Stats{BaseSize: bv.Size}})
		}
	}
	return out, nil
}

func findVolume(s volume.Snapshot, id string) (volume.VolumeSnapshot, bool) {
	for _, v := range s.Volumes {
		if v.VolumeID == id {
			return v, true
		}
	}
	return volume.VolumeSnapshot{}, false
}
