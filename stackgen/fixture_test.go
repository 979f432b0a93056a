package stackgen

import (
	"strings"
	"time"
)

func digest(c byte) string { return strings.Repeat(string(c), 64) }

// firstPlan is web@1: a boot volume and one data volume.
func firstPlan() Plan {
	return Plan{
		VGID:   "vg-0123456789abcdef",
		VGName: "web",
		Ref:    "web@1",
		Snapshot: Snapshot{
			ID: "snap-1111111111111111", Seq: 1,
			Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			Volumes: []Volume{
				{ID: "vol-aaaaaaaaaaaaaaaa", Name: "boot", Role: RoleBoot, Size: 8 << 30, Manifest: digest('a')},
				{ID: "vol-bbbbbbbbbbbbbbbb", Name: "data", Role: RoleData, Size: 60<<30 + 1, Manifest: digest('b')},
			},
		},
	}
}

// deltaPlan is web@1..web@2: the data volume grew, a second data volume was
// added, the boot volume is unchanged.
func deltaPlan() Plan {
	base := firstPlan().Snapshot
	p := firstPlan()
	p.Ref = "web@1..web@2"
	p.Base = &base
	p.Snapshot = Snapshot{
		ID: "snap-2222222222222222", Seq: 2,
		Created: time.Date(2025, 1, 3, 3, 4, 5, 0, time.UTC),
		Volumes: []Volume{
			base.Volumes[0],
			{ID: "vol-bbbbbbbbbbbbbbbb", Name: "data", Role: RoleData, Size: 80 << 30, Manifest: digest('c')},
			{ID: "vol-dddddddddddddddd", Name: "logs", Role: RoleData, Size: 1 << 30, Manifest: digest('d')},
		},
	}
	p.Delta = &Delta{
		File: "deltas/web-1-2.vmdelta", Digest: digest('e'), Size: 12345,
		BaseSnapshotID: base.ID, TargetSnapshotID: p.Snapshot.ID,
		Volumes: []DeltaVolume{
			{VolumeID: "vol-bbbbbbbbbbbbbbbb", ChangedBytes: 4096, OldSize: 60<<30 + 1, NewSize: 80 << 30},
			{VolumeID: "vol-dddddddddddddddd", ChangedBytes: 1 << 20, NewSize: 1 << 30, Added: true},
		},
		Files: []DeltaFile{{SHA256: digest('f')}},
	}
	return p
}
