package volume

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vmrep/vmrep/engine/blob"
)

// ErrVolumeInUse is returned by UpdateVG for a record that drops or
// changes a volume an existing snapshot names.
var ErrVolumeInUse = errors.New("volume in use by a snapshot")

// snapshotVolumeProblem says what is wrong between a snapshot's volume and
// the VG record it belongs to, which the answer calls subject: empty when
// the VG holds the volume with the same ID, name and role. Restore, diff, replicas and stacks find a
// snapshot's volume in its VG by ID and trust its name and role, so a
// snapshot whose volume the VG lost or changed can no longer be read as
// it was taken.
func snapshotVolumeProblem(subject string, vg VG, v VolumeSnapshot) string {
	for _, have := range vg.Volumes {
		if have.ID != v.VolumeID {
			continue
		}
		switch {
		case have.Name != v.Name:
			return fmt.Sprintf("%s calls volume %s %q, the snapshot %q", subject, v.VolumeID, have.Name, v.Name)
		case have.Role != v.Role:
			return fmt.Sprintf("%s has volume %q (%s) as %s, the snapshot as %s", subject, v.Name, v.VolumeID, have.Role, v.Role)
		}
		return ""
	}
	return fmt.Sprintf("%s lacks volume %q (%s)", subject, v.Name, v.VolumeID)
}

// keepsSnapshotVolumesLocked refuses an update of a VG record that would
// leave one of its snapshots naming a volume the VG no longer has, or has
// under another name or role. Volumes no snapshot names may be added,
// changed or removed, and a named volume's size, format and source may
// change: each snapshot records its own size. An update that keeps every
// volume of old (ID, name and role) cannot break a snapshot the old record
// held, and skips listing them: the replication server bumps NextSeq with
// an update for every snapshot it receives.
func (c *Catalog) keepsSnapshotVolumesLocked(ctx context.Context, old, vg VG) error {
	if keepsVolumes(old, vg) {
		return nil
	}
	snaps, err := c.listSnapshotsLocked(ctx, vg.ID)
	if err != nil {
		return fmt.Errorf("update volume group %q: %w", vg.Name, err)
	}
	for _, s := range snaps {
		for _, v := range s.Volumes {
			if p := snapshotVolumeProblem("the new record", vg, v); p != "" {
				return fmt.Errorf("update volume group %q (%s): %w: snapshot %s: %s", vg.Name, vg.ID, ErrVolumeInUse, s.Name(), p)
			}
		}
	}
	return nil
}

// snapshotsByVG returns every snapshot record, those of each VG (by name)
// in sequence order, then those whose VG record is missing, with the VGs
// by ID. Listing the records themselves, rather than each VG's, is what
// finds a snapshot that outlived its VG record.
func (c *Catalog) snapshotsByVG(ctx context.Context) ([]Snapshot, map[string]VG, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	vgs, err := c.listVGsLocked(ctx)
	if err != nil {
		return nil, nil, err
	}
	byVG := make(map[string][]Snapshot)
	var orphans []Snapshot
	byID := make(map[string]VG, len(vgs))
	for _, vg := range vgs {
		byID[vg.ID] = vg
	}
	// Record names sort by VG ID, then by sequence number.
	err = c.rs.ListRecords(ctx, blob.RecordSnapshot, "", func(name string, data []byte) error {
		s, err := decodeSnapshot(name, data)
		if err != nil {
			return err
		}
		if _, ok := byID[s.VGID]; ok {
			byVG[s.VGID] = append(byVG[s.VGID], s)
		} else {
			orphans = append(orphans, s)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var out []Snapshot
	for _, vg := range vgs {
		out = append(out, byVG[vg.ID]...)
	}
	return append(out, orphans...), byID, nil
}

// keepsVolumes says whether vg still has every volume of old, by ID, with
// the same name and role.
func keepsVolumes(old, vg VG) bool {
	for _, o := range old.Volumes {
		if !slices.ContainsFunc(vg.Volumes, func(v Volume) bool { return v.ID == o.ID && v.Name == o.Name && v.Role == o.Role }) {
			return false
		}
	}
	return true
}
