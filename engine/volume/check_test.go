package volume

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas/castest"
)

// storeVolume stores n real chunks (and some holes) and their manifest, and
// returns the manifest's summary and the chunk IDs.
func storeVolume(t *testing.T, bs *castest.MemStore, rng *rand.Rand, n int) (ManifestInfo, []blob.ID) {
	t.Helper()
	ctx := context.Background()
	mw := NewManifestWriter(bs)
	var ids []blob.ID
	for i := 0; i < n; i++ {
		data := []byte(fmt.Sprintf("chunk %d %d", i, rng.Uint64()))
		id := blob.Sum(data)
		if _, err := bs.Put(ctx, blob.Chunk, id, data); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if err := mw.Add(ctx, Entry{ID: id, Length: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if err := mw.Add(ctx, Entry{Hole: true, Length: 65536}); err != nil {
				t.Fatal(err)
			}
		}
	}
	info, err := mw.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info, ids
}

func TestCheckSnapshots(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(15, 16))
	bs := castest.NewMemStore()
	c, _ := newTestCatalog()
	vg, err := c.CreateVG(ctx, testVG())
	if err != nil {
		t.Fatal(err)
	}
	boot, bootIDs := storeVolume(t, bs, rng, 9000)
	data, _ := storeVolume(t, bs, rng, 50)
	// Two snapshots with the same manifests: shared pages.
	for i := 0; i < 2; i++ {
		seq, _ := c.ReserveSeq(ctx, vg.ID)
		if err := c.PutSnapshot(ctx, snapshotOf(vg, seq, boot, data)); err != nil {
			t.Fatal(err)
		}
	}
	var calls, lastTotal int
	problems, err := CheckSnapshots(ctx, c, bs, func(done, total int) { calls, lastTotal = done, total })
	if err != nil || len(problems) != 0 {
		t.Fatalf("clean store: %v, %v", problems, err)
	}
	if calls != 4 || lastTotal != 4 {
		t.Fatalf("progress ended at %d of %d, want 4 of 4", calls, lastTotal)
	}

	// A record whose counts disagree with its manifest.
	seq, _ := c.ReserveSeq(ctx, vg.ID)
	lying := snapshotOf(vg, seq, boot, data)
	lying.Volumes[0].Chunks++
	if err := c.PutSnapshot(ctx, lying); err != nil {
		t.Fatal(err)
	}
	problems, err = CheckSnapshots(ctx, c, bs, nil)
	if err != nil || len(problems) != 1 || problems[0].ID != boot.ID || problems[0].Snapshot != "web@3" {
		t.Fatalf("lying counts: %v, %v", problems, err)
	}

	// A missing chunk shows in every snapshot that names it.
	missing := bootIDs[4321]
	bs.Remove(missing)
	problems, err = CheckSnapshots(ctx, c, bs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 3 {
		t.Fatalf("one missing chunk in three snapshots: %d problems %v", len(problems), problems)
	}
	for i, p := range problems {
		if p.ID != missing || p.Volume != "boot" || p.Snapshot != fmt.Sprintf("web@%d", i+1) || !errors.Is(p.Err, blob.ErrNotFound) {
			t.Errorf("problem %d: %+v", i, p)
		}
	}

	// A missing page of the data volume.
	m := loadManifest(t, bs, data.ID)
	bs.Remove(m.Pages[0].ID)
	problems, err = CheckSnapshots(ctx, c, bs, nil)
	if err != nil {
		t.Fatal(err)
	}
	pageMissing := 0
	for _, p := range problems {
		if p.ID == m.Pages[0].ID && p.Volume == "data" && errors.Is(p.Err, blob.ErrNotFound) {
			pageMissing++
		}
	}
	if pageMissing != 3 || len(problems) != 6 {
		t.Fatalf("page missing %d times (want 3), %d problems (want 6): %v", pageMissing, len(problems), problems)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := CheckSnapshots(cctx, c, bs, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled check: %v", err)
	}
}
