package crashtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/reliability"
)

// storeConfig is a small store: small chunks and packs, so that a small
// ingest makes several packs and every k stays affordable.
func storeConfig() cas.Config {
	cfg := cas.DefaultConfig()
	cfg.Chunker = blob.ChunkerParams{Min: 4 << 10, Avg: 16 << 10, Max: 64 << 10}
	cfg.PackSize = 64 << 10
	return cfg
}

// imageSet is the content of every volume of one snapshot, by volume name.
type imageSet map[string][]byte

// vgVolumes are the volumes of the suites' VG.
var vgVolumes = []volume.Volume{{Name: "boot", Role: volume.RoleBoot}, {Name: "data", Role: volume.RoleData}}

// makeSets returns n image sets of two volumes of size bytes each, every
// set sharing most data with the one before, as successive snapshots do.
func makeSets(seed uint64, n int, size int) []imageSet {
	rng := rand.New(rand.NewPCG(seed, seed))
	sets := make([]imageSet, n)
	for i := range sets {
		sets[i] = imageSet{}
		for _, v := range vgVolumes {
			b := make([]byte, size)
			if i == 0 {
				for j := range b[:size*3/4] {
					b[j] = byte(rng.Uint32())
				}
			} else {
				copy(b, sets[i-1][v.Name])
				off := rng.IntN(size / 2)
				for j := off; j < off+size/4; j++ {
					b[j] = byte(rng.Uint32())
				}
			}
			sets[i][v.Name] = b
		}
	}
	return sets
}

// snapshotSet ingests one image set as a snapshot of the VG named "web",
// creating the VG if the catalog has none. Sources are real files in work.
func snapshotSet(ctx context.Context, s *cas.Store, set imageSet, work string) error {
	cat := volume.NewCatalog(s)
	vg, err := cat.GetVG(ctx, "web")
	if errors.Is(err, volume.ErrNotFound) {
		vg, err = cat.CreateVG(ctx, volume.VG{Name: "web", Volumes: vgVolumes})
	}
	if err != nil {
		return err
	}
	for name, b := range set {
		if err := os.WriteFile(filepath.Join(work, name+".img"), b, 0o644); err != nil {
			return err
		}
	}
	cut, err := ingest.NewCutter(s.Config().Chunker)
	if err != nil {
		return err
	}
	open := func(ctx context.Context, v volume.Volume) (source.Reader, error) {
		return source.Open(ctx, filepath.Join(work, v.Name+".img"))
	}
	w := s.NewWriter()
	defer w.Close()
	_, _, err = ingest.Snapshot(ctx, w, cat, vg, open, ingest.SnapshotOptions{Options: ingest.Options{Cutter: cut}})
	return err
}

// memTarget is a restore target in memory.
type memTarget struct{ b []byte }

func (m *memTarget) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	return copy(m.b[off:], p), nil
}
func (m *memTarget) Zero(off, n int64) error {
	_, err := m.WriteAt(make([]byte, n), off)
	return err
}
func (m *memTarget) Size() (int64, error) { return int64(len(m.b)), nil }
func (m *memTarget) Sync() error          { return nil }

// storeCheck opens the world's store and checks it as the suites demand:
// it opens, Verify with ReadData finds nothing, and every snapshot listed
// has every volume and restores byte for byte to one of the known sets.
// It counts what is wrong in r.Bad and returns the open store (nil when
// it did not open) and which known sets the snapshots hold.
func storeCheck(ctx context.Context, t testing.TB, w *world, known []imageSet, r *reliability.Result, at string) (*cas.Store, map[int]int) {
	t.Helper()
	s, err := w.open(ctx)
	if err != nil {
		r.Bad["stores that do not open"]++
		t.Errorf("%s: reopen: %v", at, err)
		return nil, nil
	}
	rep, err := s.Verify(ctx, cas.VerifyOptions{ReadData: true})
	if err != nil || len(rep.Problems) > 0 {
		r.Bad["corrupt stores"]++
		t.Errorf("%s: verify --read-data: %v %v", at, err, rep.Problems)
	}
	found := map[int]int{}
	cat := volume.NewCatalog(s)
	vgs, err := cat.ListVGs(ctx)
	if err != nil {
		r.Bad["unreadable catalogs"]++
		t.Errorf("%s: list VGs: %v", at, err)
	}
	for _, vg := range vgs {
		snaps, err := cat.ListSnapshots(ctx, vg.ID)
		if err != nil {
			r.Bad["unreadable catalogs"]++
			t.Errorf("%s: list snapshots: %v", at, err)
			continue
		}
		for _, snap := range snaps {
			if i, ok := checkSnapshot(ctx, t, s, snap, known, r, at); ok {
				found[i]++
			}
		}
	}
	return s, found
}

// checkSnapshot restores every volume of snap and returns which known set
// it equals.
func checkSnapshot(ctx context.Context, t testing.TB, s *cas.Store, snap volume.Snapshot, known []imageSet, r *reliability.Result, at string) (int, bool) {
	t.Helper()
	if len(snap.Volumes) != len(vgVolumes) {
		r.Bad["half-visible snapshots"]++
		t.Errorf("%s: snapshot %s has %d of %d volumes", at, snap.Name(), len(snap.Volumes), len(vgVolumes))
		return 0, false
	}
	got := imageSet{}
	for _, v := range snap.Volumes {
		m, err := volume.LoadManifest(ctx, s, v.Manifest)
		tg := &memTarget{b: make([]byte, v.Size)}
		if err == nil {
			_, err = restore.Volume(ctx, s, m, tg, restore.Options{})
		}
		if errors.Is(err, blob.ErrNotFound) {
			r.Bad["snapshots naming a missing blob"]++
			t.Errorf("%s: snapshot %s volume %s: %v", at, snap.Name(), v.Name, err)
			return 0, false
		}
		if err != nil {
			r.Bad["snapshots that do not restore"]++
			t.Errorf("%s: snapshot %s volume %s: %v", at, snap.Name(), v.Name, err)
			return 0, false
		}
		got[v.Name] = tg.b[:min(int64(len(tg.b)), v.Size)]
	}
	for i, set := range known {
		if sameSet(set, got) {
			return i, true
		}
	}
	r.Bad["snapshots with wrong bytes"]++
	t.Errorf("%s: snapshot %s restores to bytes of no snapshot taken", at, snap.Name())
	return 0, false
}

func sameSet(a, b imageSet) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// crashEvery runs op on a clone of base once cleanly to count its file
// operations N, then once per k = 1..N with a crash at the k-th, checking
// the store after each with check. It returns N.
func crashEvery(ctx context.Context, t *testing.T, base *world, op func(*cas.Store) error, check func(w *world, at string)) int {
	t.Helper()
	n := countOps(ctx, t, base, op)
	for k := 1; k <= n; k++ {
		w := base.clone()
		s, err := w.open(ctx)
		if err != nil {
			t.Fatalf("k=%d: open before the crash: %v", k, err)
		}
		w.crashAt(k)
		op(s) // fails from the crash on; what matters is what survives
		s.Close()
		check(w.clone(), fmt.Sprintf("crash at op %d of %d", k, n))
		if t.Failed() && !reliability.Full() {
			t.Logf("stopping at k=%d after a failure", k)
			return n
		}
	}
	return n
}

// countOps runs op on a clone of base and returns how many counted file
// operations it and the store's Close made.
func countOps(ctx context.Context, t *testing.T, base *world, op func(*cas.Store) error) int {
	t.Helper()
	w := base.clone()
	s, err := w.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := w.fs.Ops()
	if err := op(s); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("clean run: close: %v", err)
	}
	return w.fs.Ops() - before
}
