package volume

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas/castest"
)

// TestUpdateVGKeepsSnapshotVolumes: an update that drops, renames or
// re-roles a volume a snapshot names is refused and changes nothing; one
// that adds a volume or resizes one is taken.
func TestUpdateVGKeepsSnapshotVolumes(t *testing.T) {
	ctx := context.Background()
	c, rs := newTestCatalog()
	vg, err := c.CreateVG(ctx, testVG())
	if err != nil {
		t.Fatal(err)
	}
	seq, _ := c.ReserveSeq(ctx, vg.ID)
	if err := c.PutSnapshot(ctx, snapshotOf(vg, seq)); err != nil {
		t.Fatal(err)
	}
	vg, _ = c.GetVG(ctx, vg.ID)
	record := func() string { return string(rs.recs[blob.RecordVG][vg.ID]) }
	before := record()
	edit := func(f func(*VG)) VG {
		n := vg
		n.Volumes = append([]Volume(nil), vg.Volumes...)
		f(&n)
		return n
	}
	for _, tc := range []struct {
		name, want string
		vg         VG
	}{
		{"hijack: one new volume instead", `snapshot web@1: the new record lacks volume "boot" (vol-0000000000000001)`, edit(func(n *VG) {
			n.Volumes = []Volume{{ID: "vol-00000000000000ff", Name: "disk", Role: RoleBoot, Size: 4096}}
		})},
		{"data volume dropped", `snapshot web@1: the new record lacks volume "data" (vol-0000000000000002)`, edit(func(n *VG) { n.Volumes = n.Volumes[:1] })},
		{"volume renamed", `snapshot web@1: the new record calls volume vol-0000000000000002 "db", the snapshot "data"`, edit(func(n *VG) { n.Volumes[1].Name = "db" })},
		{"roles swapped", `snapshot web@1: the new record has volume "boot" (vol-0000000000000001) as data, the snapshot as boot`, edit(func(n *VG) {
			n.Volumes[0].Role, n.Volumes[1].Role = RoleData, RoleBoot
		})},
		{"volume id changed", `snapshot web@1: the new record lacks volume "data" (vol-0000000000000002)`, edit(func(n *VG) { n.Volumes[1].ID = "vol-0000000000000003" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.UpdateVG(ctx, tc.vg)
			if !errors.Is(err, ErrVolumeInUse) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "snapshot web@1") ||
				strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want ErrVolumeInUse naming web@1 and %s", err, tc.want)
			}
			if record() != before {
				t.Fatalf("a refused update changed the record:\n%s\nwas\n%s", record(), before)
			}
		})
	}
	grown := edit(func(n *VG) {
		n.Volumes[0].Size *= 2
		n.Volumes = append(n.Volumes, Volume{ID: "vol-0000000000000009", Name: "logs", Role: RoleData, Size: 4096})
	})
	if err := c.UpdateVG(ctx, grown); err != nil {
		t.Fatalf("adding a volume and growing one: %v", err)
	}
	// A volume no snapshot names may go again.
	if err := c.UpdateVG(ctx, vg); err != nil {
		t.Fatalf("dropping the unused volume: %v", err)
	}
}

// TestCheckSnapshotsVGDamage: a catalog damaged behind the catalog's back
// (a VG record that lost a volume, a snapshot whose VG record is gone) is
// reported by CheckSnapshots, one problem each.
func TestCheckSnapshotsVGDamage(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(19, 19))
	bs := castest.NewMemStore()
	c, rs := newTestCatalog()
	web, err := c.CreateVG(ctx, testVG())
	if err != nil {
		t.Fatal(err)
	}
	db := testVG()
	db.ID, db.Name = "vg-00000000000000db", "db"
	if db, err = c.CreateVG(ctx, db); err != nil {
		t.Fatal(err)
	}
	boot, _ := storeVolume(t, bs, rng, 20)
	data, _ := storeVolume(t, bs, rng, 20)
	for _, vg := range []VG{web, web, db} {
		seq, _ := c.ReserveSeq(ctx, vg.ID)
		if err := c.PutSnapshot(ctx, snapshotOf(vg, seq, boot, data)); err != nil {
			t.Fatal(err)
		}
	}
	if problems, err := CheckSnapshots(ctx, c, bs, nil); err != nil || len(problems) != 0 {
		t.Fatalf("clean catalog: %v, %v", problems, err)
	}

	// The hijack as it landed: web's record rewritten with one 4 KiB
	// volume, as an older server let a replication do.
	hijacked := web
	hijacked.Name = "hijacked"
	hijacked.NextSeq = 3
	hijacked.Volumes = []Volume{{ID: "vol-00000000000000ff", Name: "disk", Role: RoleBoot, Size: 4096}}
	b, _ := json.Marshal(hijacked)
	rs.recs[blob.RecordVG][web.ID] = b
	// And db's record deleted under its snapshot.
	delete(rs.recs[blob.RecordVG], db.ID)

	var total int
	problems, err := CheckSnapshots(ctx, c, bs, func(_, n int) { total = n })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.Error())
	}
	want := []string{
		`snapshot web@1 volume "boot": its volume group lacks volume "boot" (vol-0000000000000001)`,
		`snapshot web@1 volume "data": its volume group lacks volume "data" (vol-0000000000000002)`,
		`snapshot web@2 volume "boot": its volume group lacks volume "boot" (vol-0000000000000001)`,
		`snapshot web@2 volume "data": its volume group lacks volume "data" (vol-0000000000000002)`,
		`snapshot db@1: its volume group record vg-00000000000000db is missing`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%d problems:\n%s\nwant %d:\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
	if total != 6 {
		t.Fatalf("checked %d volumes, want 6 (the orphan's too)", total)
	}
}
