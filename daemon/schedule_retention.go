package daemon

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/engine/retention"
	"github.com/vmrep/vmrep/engine/volume"
)

// applyRetention removes the snapshots of vg that p does not keep, as
// `snapshot forget` does (forgetLocked): the newest snapshot and those
// snapshotPins holds are kept. Buckets are days and hours of the server
// clock's location. The caller holds vg's writer lock. It returns the
// names of the removed snapshots.
func (s *Server) applyRetention(ctx context.Context, vg volume.VG, p retention.Policy) ([]string, error) {
	res, err := s.forgetLocked(ctx, vg, p, false, s.clock.Now())
	var removed []string
	for _, d := range res.Remove {
		if d.Removed {
			sn := volume.Snapshot{VGName: vg.Name, Seq: d.Seq}
			removed = append(removed, sn.Name())
		}
	}
	if err != nil {
		return removed, fmt.Errorf("retention of %s: %w", vg.Name, err)
	}
	return removed, nil
}
