package daemon

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/volume"
)

// A snapshot record written before stored bytes were counted holds
// "stored_bytes": 0, which means "not known": the API says null, not 0.
func TestSnapshotStoredBytesKnownOrNull(t *testing.T) {
	for _, tc := range []struct {
		record string
		want   string
	}{
		{`{"stored_bytes":0,"new_bytes":4096}`, `"stored_bytes":null`},
		{`{"stored_bytes":0,"new_bytes":0,"stored_counted":true}`, `"stored_bytes":0`},
		{`{"stored_bytes":5000,"new_bytes":4096,"stored_counted":true}`, `"stored_bytes":5000`},
	} {
		var v volume.VolumeSnapshot
		if err := json.Unmarshal([]byte(tc.record), &v); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(toAPISnapshot(volume.Snapshot{Volumes: []volume.VolumeSnapshot{v}}))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("record %s: API %s, want %s", tc.record, b, tc.want)
		}
	}
}

// vg show reports each volume's size at the latest snapshot, and the
// creation size for a volume no snapshot holds yet.
func TestVGSizesFromLatestSnapshot(t *testing.T) {
	vg := volume.VG{Name: "web", Volumes: []volume.Volume{{ID: "vol-a", Name: "boot", Size: 100}, {ID: "vol-b", Name: "db", Size: 200}}}
	snaps := []volume.Snapshot{
		{Seq: 1, Volumes: []volume.VolumeSnapshot{{VolumeID: "vol-a", Size: 150}}},
		{Seq: 2, Volumes: []volume.VolumeSnapshot{{VolumeID: "vol-a", Size: 300}}},
	}
	out := toAPIVG(vg, snaps)
	if out.Snapshots != 2 || out.Volumes[0].Size != 300 || out.Volumes[1].Size != 200 {
		t.Fatalf("toAPIVG: %+v", out)
	}
	if out := toAPIVG(vg, nil); out.Volumes[0].Size != 100 {
		t.Fatalf("toAPIVG without snapshots: %+v", out)
	}
}
