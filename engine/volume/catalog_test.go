package volume

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
)

func newTestCatalog() (*Catalog, *memRecords) {
	rs := newMemRecords()
	c := NewCatalog(rs)
	c.now = func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
	return c, rs
}

// snapshotOf makes a snapshot record of every volume of vg, with
// placeholder manifests unless infos gives real ones.
func snapshotOf(vg VG, seq uint64, infos ...ManifestInfo) Snapshot {
	s := Snapshot{ID: NewSnapshotID(), VGID: vg.ID, VGName: vg.Name, Seq: seq, Created: time.Unix(1700000000, 0).UTC()}
	for i, v := range vg.Volumes {
		vs := VolumeSnapshot{VolumeID: v.ID, Name: v.Name, Role: v.Role, Size: v.Size, Manifest: blob.Sum([]byte(v.Name))}
		if i < len(infos) {
			in := infos[i]
			vs.Size, vs.Manifest, vs.DataBytes, vs.Chunks, vs.Holes = in.Size, in.ID, in.DataBytes, in.Chunks, in.Holes
		}
		s.Volumes = append(s.Volumes, vs)
	}
	return s
}

func TestCatalogVGs(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestCatalog()
	in := VG{Name: "web", Volumes: []Volume{{Name: "root", Role: RoleBoot, Size: 10}, {Name: "logs", Role: RoleData, Size: 5}}}
	web, err := c.CreateVG(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !isID(vgPrefix, web.ID) || !isID(volumePrefix, web.Volumes[1].ID) || web.NextSeq != 1 || web.Created.IsZero() {
		t.Fatalf("created %+v", web)
	}
	if in.Volumes[0].ID != "" {
		t.Fatal("CreateVG changed the caller's volumes")
	}
	if _, err := c.CreateVG(ctx, in); !errors.Is(err, ErrExists) {
		t.Fatalf("second web: %v", err)
	}
	if _, err := c.CreateVG(ctx, VG{Name: "bad/name", Volumes: in.Volumes}); err == nil {
		t.Fatal("bad name accepted")
	}
	db, err := c.CreateVG(ctx, VG{Name: "db", Volumes: []Volume{{Name: "root", Role: RoleBoot}}})
	if err != nil {
		t.Fatal(err)
	}
	vgs, err := c.ListVGs(ctx)
	if err != nil || len(vgs) != 2 || vgs[0].Name != "db" || vgs[1].Name != "web" {
		t.Fatalf("ListVGs = %+v, %v", vgs, err)
	}
	for _, key := range []string{"web", web.ID} {
		got, err := c.GetVG(ctx, key)
		if err != nil || got.ID != web.ID || len(got.Volumes) != 2 || !got.Created.Equal(web.Created) {
			t.Fatalf("GetVG(%q) = %+v, %v", key, got, err)
		}
	}
	if _, err := c.GetVG(ctx, "nope"); !errors.Is(err, ErrNotFound) || !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("GetVG(nope): %v", err)
	}

	// Rename onto a taken name is refused; a fresh name works.
	web.Name = "db"
	if err := c.UpdateVG(ctx, web); !errors.Is(err, ErrExists) {
		t.Fatalf("rename onto db: %v", err)
	}
	web.Name = "www"
	web.NextSeq = 0 // must not move NextSeq back
	if err := c.UpdateVG(ctx, web); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetVG(ctx, "www"); err != nil || got.NextSeq != 1 {
		t.Fatalf("after rename: %+v, %v", got, err)
	}
	if err := c.UpdateVG(ctx, VG{ID: NewVGID(), Name: "x", Volumes: in.Volumes}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of a missing VG: %v", err)
	}

	if err := c.DeleteVG(ctx, db.Name, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetVG(ctx, db.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted VG: %v", err)
	}
}

func TestCatalogSnapshots(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestCatalog()
	vg, err := c.CreateVG(ctx, testVG())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutSnapshot(ctx, snapshotOf(vg, 1)); err == nil || !strings.Contains(err.Error(), "not reserved") {
		t.Fatalf("unreserved seq: %v", err)
	}
	var seqs []uint64
	for i := 0; i < 3; i++ {
		seq, err := c.ReserveSeq(ctx, vg.ID)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
		if err := c.PutSnapshot(ctx, snapshotOf(vg, seq)); err != nil {
			t.Fatal(err)
		}
	}
	if seqs[0] != 1 || seqs[2] != 3 {
		t.Fatalf("seqs %v", seqs)
	}
	if err := c.PutSnapshot(ctx, snapshotOf(vg, 2)); !errors.Is(err, ErrExists) {
		t.Fatalf("overwrite snapshot 2: %v", err)
	}
	snaps, err := c.ListSnapshots(ctx, vg.ID)
	if err != nil || len(snaps) != 3 || snaps[0].Seq != 1 || snaps[2].Seq != 3 {
		t.Fatalf("ListSnapshots = %v, %v", snaps, err)
	}
	if got, err := c.GetSnapshot(ctx, vg.ID, 2); err != nil || got.ID != snaps[1].ID || got.Volumes[0].Manifest != snaps[1].Volumes[0].Manifest {
		t.Fatalf("GetSnapshot(2) = %+v, %v", got, err)
	}

	// Deleting the latest does not free its number.
	if err := c.DeleteSnapshot(ctx, vg.ID, 3); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSnapshot(ctx, vg.ID, 3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if latest, err := c.Latest(ctx, vg.ID); err != nil || latest.Seq != 2 {
		t.Fatalf("Latest = %+v, %v", latest, err)
	}
	if seq, err := c.ReserveSeq(ctx, vg.ID); err != nil || seq != 4 {
		t.Fatalf("ReserveSeq after delete = %d, %v; want 4", seq, err)
	}

	if err := c.DeleteVG(ctx, "web", false); !errors.Is(err, ErrHasSnapshots) {
		t.Fatalf("delete with snapshots: %v", err)
	}
	if err := c.DeleteVG(ctx, "web", true); err != nil {
		t.Fatal(err)
	}
	if snaps, err := c.ListSnapshots(ctx, vg.ID); err != nil || len(snaps) != 0 {
		t.Fatalf("snapshots left after forced delete: %v, %v", snaps, err)
	}
}

func TestReserveSeqConcurrent(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestCatalog()
	vg, err := c.CreateVG(ctx, testVG())
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				seq, err := c.ReserveSeq(ctx, vg.ID)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[seq] {
					t.Errorf("seq %d handed out twice", seq)
				}
				seen[seq] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for s := uint64(1); s <= workers*each; s++ {
		if !seen[s] {
			t.Fatalf("seq %d skipped", s)
		}
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestCatalog()
	vg, err := c.CreateVG(ctx, testVG())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Resolve(ctx, "web@latest"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `volume group "web" has no snapshots`) {
		t.Fatalf("Resolve with no snapshots: %v", err)
	}
	for i := 0; i < 2; i++ {
		seq, _ := c.ReserveSeq(ctx, vg.ID)
		if err := c.PutSnapshot(ctx, snapshotOf(vg, seq)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		ref    string
		seq    uint64
		errHas string
	}{
		{"web", 0, "invalid snapshot reference"},
		{"web@latest", 2, ""},
		{"web@1", 1, ""},
		{vg.ID + "@2", 2, ""},
		{"web@7", 0, `snapshot web@7 does not exist`},
		{vg.ID + "@7", 0, `snapshot web@7 does not exist`},
		{"nope@1", 0, `volume group "nope": not found`},
		{"web@x", 0, "invalid snapshot reference"},
	}
	for _, tt := range tests {
		gotVG, s, err := c.Resolve(ctx, tt.ref)
		if tt.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Resolve(%q) = %v, want error with %q", tt.ref, err, tt.errHas)
			}
			continue
		}
		if err != nil || s.Seq != tt.seq || gotVG.ID != vg.ID {
			t.Errorf("Resolve(%q) = %s@%d, %v", tt.ref, gotVG.Name, s.Seq, err)
		}
	}
}

// TestCatalogBadRecords checks that records are validated after decoding:
// a damaged record is an error, not a half-filled VG.
func TestCatalogBadRecords(t *testing.T) {
	ctx := context.Background()
	c, rs := newTestCatalog()
	vg, err := c.CreateVG(ctx, testVG())
	if err != nil {
		t.Fatal(err)
	}
	good, _ := rs.GetRecord(ctx, blob.RecordVG, vg.ID)
	tests := []struct {
		name string
		data string
	}{
		{"not json", "{"},
		{"no boot", strings.Replace(string(good), `"boot"`, `"data"`, -1)},
		{"wrong id", strings.Replace(string(good), vg.ID, "vg-ffffffffffffffff", 1)},
		{"no next seq", strings.Replace(string(good), `"next_seq":1`, `"next_seq":0`, 1)},
	}
	for _, tt := range tests {
		if err := rs.PutRecord(ctx, blob.RecordVG, vg.ID, []byte(tt.data)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetVG(ctx, vg.ID); err == nil {
			t.Errorf("%s: damaged record accepted", tt.name)
		}
	}
	// Unknown fields are accepted: a newer version may add some.
	newer := strings.Replace(string(good), `{`, `{"future":true,`, 1)
	if err := rs.PutRecord(ctx, blob.RecordVG, vg.ID, []byte(newer)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetVG(ctx, vg.ID); err != nil {
		t.Errorf("record with an unknown field: %v", err)
	}
	s := snapshotOf(vg, 1)
	s.Volumes[0].Manifest = blob.ID{}
	if err := c.PutSnapshot(ctx, s); err == nil {
		t.Error("snapshot without manifest accepted")
	}
	if err := rs.PutRecord(ctx, blob.RecordSnapshot, snapshotName(vg.ID, 1), []byte(`{"id":"snap-1"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListSnapshots(ctx, vg.ID); err == nil {
		t.Error("damaged snapshot record accepted")
	}
}
