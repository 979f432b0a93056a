package gc_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/gc"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/testdisk"
)

type fixture struct {
	store *cas.Store
	cat   *volume.Catalog
	cut   *chunker.Cutter
	work  string
}

func newFixture(t *testing.T) *fixture {
	ctx := context.Background()
	work := t.TempDir()
	dir := filepath.Join(work, "store")
	cfg := cas.DefaultConfig()
	cfg.PackSize = 4 << 20 // several packs, so some die whole and some are rewritten
	if err := cas.Init(ctx, dir, cfg); err != nil {
		t.Fatal(err)
	}
	s, err := cas.Open(ctx, dir, cas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cut, err := ingest.NewCutter(s.Config().Chunker)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: s, cat: volume.NewCatalog(s), cut: cut, work: work}
}

func (f *fixture) snapshot(t *testing.T, vg volume.VG, data []byte) (volume.Snapshot, []byte) {
	t.Helper()
	img := filepath.Join(f.work, vg.Name+".img")
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	open := func(ctx context.Context, v volume.Volume) (source.Reader, error) { return source.Open(ctx, img) }
	w := f.store.NewWriter()
	defer w.Close()
	snap, _, err := ingest.Snapshot(context.Background(), w, f.cat, vg, open, ingest.SnapshotOptions{Options: ingest.Options{Cutter: f.cut}})
	if err != nil {
		t.Fatal(err)
	}
	return snap, bytes.Clone(data)
}

func (f *fixture) check(t *testing.T, snap volume.Snapshot, want []byte) {
	t.Helper()
	ctx := context.Background()
	m, err := volume.LoadManifest(ctx, f.store, snap.Volumes[0].Manifest)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.work, "restored.img")
	if _, err := restore.ToPath(ctx, f.store, m, out, restore.Options{}); err != nil {
		t.Fatalf("restore %s after gc: %v", snap.Name(), err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s restored after gc differs", snap.Name())
	}
}

func TestCollectDeletedSnapshots(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	rng := rand.New(rand.NewPCG(1, 1))
	vg, err := f.cat.CreateVG(ctx, volume.VG{Name: "web", Volumes: []volume.Volume{{Name: "boot", Role: volume.RoleBoot}}})
	if err != nil {
		t.Fatal(err)
	}
	shared := testdisk.Content(rng, 0, 6<<20)
	s1, _ := f.snapshot(t, vg, append(bytes.Clone(shared), testdisk.Content(rng, 0, 12<<20)...))
	s2, d2 := f.snapshot(t, vg, append(bytes.Clone(shared), testdisk.Content(rng, 2, 8<<20)...))
	before, _ := f.store.Stats(ctx)

	dry, err := gc.Run(ctx, f.store, f.cat, gc.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := f.store.Stats(ctx); after != before || dry.PacksDeleted != 0 {
		t.Fatalf("dry run changed the store: %+v -> %+v", before, after)
	}

	if err := f.cat.DeleteSnapshot(ctx, vg.ID, s1.Seq); err != nil {
		t.Fatal(err)
	}
	st, err := gc.Run(ctx, f.store, f.cat, gc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := f.store.Stats(ctx)
	t.Logf("gc: %+v; store %d -> %d bytes", st, before.StoredBytes, after.StoredBytes)
	if freed := before.StoredBytes - after.StoredBytes; freed < 10<<20 {
		t.Errorf("gc freed %d bytes; snapshot 1 alone held 12 MiB of random data", freed)
	}
	f.check(t, s2, d2)
	rep, err := f.store.Verify(ctx, cas.VerifyOptions{ReadData: true})
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify after gc: %v %v", rep.Problems, err)
	}
	probs, err := volume.CheckSnapshots(ctx, f.cat, f.store, nil)
	if err != nil || len(probs) > 0 {
		t.Fatalf("check after gc: %v %v", probs, err)
	}

	// Everything goes once the last snapshot does.
	if err := f.cat.DeleteVG(ctx, vg.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Run(ctx, f.store, f.cat, gc.Options{}); err != nil {
		t.Fatal(err)
	}
	if empty, _ := f.store.Stats(ctx); empty.Blobs != 0 {
		t.Fatalf("%d blobs left after the last VG was deleted", empty.Blobs)
	}
}

// A manifest that cannot be read stops the collection; it never makes the
// chunks it names look dead.
func TestUnreadableManifestStopsGC(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	vg, _ := f.cat.CreateVG(ctx, volume.VG{Name: "db", Volumes: []volume.Volume{{Name: "boot", Role: volume.RoleBoot}}})
	snap, data := f.snapshot(t, vg, testdisk.Content(rand.New(rand.NewPCG(2, 2)), 0, 4<<20))
	bad := snap
	bad.Volumes = append([]volume.VolumeSnapshot(nil), snap.Volumes...)
	bad.Volumes[0].Manifest = blob.Sum([]byte("no such manifest"))
	seq, _ := f.cat.ReserveSeq(ctx, vg.ID)
	bad.Seq, bad.ID = seq, volume.NewSnapshotID()
	if err := f.cat.PutSnapshot(ctx, bad); err != nil {
		t.Fatal(err)
	}
	before, _ := f.store.Stats(ctx)
	if _, err := gc.Run(ctx, f.store, f.cat, gc.Options{}); err == nil {
		t.Fatal("gc ran over a snapshot whose manifest is missing")
	}
	if after, _ := f.store.Stats(ctx); after != before {
		t.Fatalf("a failed gc changed the store")
	}
	f.check(t, snap, data)
}

// TestDamagedRecordStopsGC damages the record of a VG's only snapshot and
// loses the index (so no intact copy is left): the catalog no longer lists
// the snapshot, and gc, which marks only what the catalog lists, must refuse
// rather than delete the snapshot's data.
func TestDamagedRecordStopsGC(t *testing.T) {
	for _, kind := range []string{"vgs", "snapshots"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			vg, _ := f.cat.CreateVG(ctx, volume.VG{Name: "db", Volumes: []volume.Volume{{Name: "boot", Role: volume.RoleBoot}}})
			snap, data := f.snapshot(t, vg, testdisk.Content(rand.New(rand.NewPCG(3, 3)), 0, 4<<20))
			dir := f.store.Dir()
			f.store.Close()
			recs, _ := filepath.Glob(filepath.Join(dir, "records", kind, "*"))
			if len(recs) != 1 {
				t.Fatalf("record files %v, want one", recs)
			}
			testdisk.FlipByte(t, recs[0], 20) // in the header's hash: not repairable
			if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
				t.Fatal(err)
			}
			s, err := cas.Open(ctx, dir, cas.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			f.store, f.cat = s, volume.NewCatalog(s)
			before, _ := s.Stats(ctx)
			_, err = gc.Run(ctx, s, f.cat, gc.Options{})
			if !errors.Is(err, gc.ErrDamagedRecords) || !strings.Contains(err.Error(), filepath.Base(recs[0])) {
				t.Fatalf("gc over a damaged record: %v; want ErrDamagedRecords naming the file", err)
			}
			if after, _ := s.Stats(ctx); after != before {
				t.Fatalf("a refused gc changed the store: %+v -> %+v", before, after)
			}
			m, err := volume.LoadManifest(ctx, s, snap.Volumes[0].Manifest)
			if err != nil {
				t.Fatalf("the snapshot's manifest after the refused gc: %v", err)
			}
			if m.Size != int64(len(data)) {
				t.Fatalf("manifest size %d, want %d", m.Size, len(data))
			}
		})
	}
}
