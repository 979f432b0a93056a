package daemon

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/engine/retention"
	"github.com/vmrep/vmrep/engine/volume"
)

// applyRetention removes the snapshots of vg that p does not keep, each
// through removeSnapshot, the path `snapshot delete` takes, never forced:
// the newest snapshot and those snapshotPins holds are kept. Buckets are
// days and hours of the server clock's location. The caller holds vg's
// writer lock. It returns the names of the removed snapshots.
func (s *Server) applyRetention(ctx context.Context, vg volume.VG, p retention.Policy) ([]string, error) {
	snaps, err := s.cat.ListSnapshots(ctx, vg.ID)
	if err != nil {
		return nil, fmt.Errorf("retention of %s: %w", vg.Name, err)
	}
	bySeq := make(map[uint64]volume.Snapshot, len(snaps))
	list := make([]retention.Snapshot, len(snaps))
	for i, sn := range snaps {
		bySeq[sn.Seq] = sn
		list[i] = retention.Snapshot{Seq: sn.Seq, Time: sn.Created, Pins: s.snapshotPins(ctx, vg.Name, sn)}
	}
	now := s.clock.Now()
	_, remove, err := retention.Apply(list, p, now, now.Location())
	if err != nil {
		return nil, fmt.Errorf("retention of %s: %w", vg.Name, err)
	}
	var removed []string
	for _, d := range remove {
		sn := bySeq[d.Snapshot.Seq]
		if err := s.removeSnapshot(ctx, vg, sn, false); err != nil {
			return removed, fmt.Errorf("retention of %s: %w", vg.Name, err)
		}
		removed = append(removed, sn.Name())
	}
	return removed, nil
}
