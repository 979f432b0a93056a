package crashtest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/gc"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/reliability"
)

// gcWorld returns a store holding snapshots of sets (three; six at full
// size), the op the gc suites crash (delete all but the last two
// snapshots, then collect), and the sets that must survive it.
func gcWorld(t *testing.T, seed uint64) (*world, []imageSet, func(*cas.Store) error, []int) {
	t.Helper()
	ctx := context.Background()
	sets := makeSets(seed, reliability.Size(3, 6), reliability.Size(64<<10, 256<<10))
	kept := []int{len(sets) - 2, len(sets) - 1}
	work := t.TempDir()
	w := newStoreWorld(t, storeConfig())
	s, err := w.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range sets {
		if err := snapshotSet(ctx, s, set, work); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	op := func(s *cas.Store) error {
		cat := volume.NewCatalog(s)
		vg, err := cat.GetVG(ctx, "web")
		if err != nil {
			return err
		}
		for seq := 1; seq <= len(sets)-2; seq++ {
			if err := cat.DeleteSnapshot(ctx, vg.ID, uint64(seq)); err != nil && !errors.Is(err, volume.ErrNotFound) {
				return err
			}
		}
		_, err = gc.Run(ctx, s, cat, gc.Options{})
		return err
	}
	return w, sets, op, kept
}

// TestReliabilityCrashGC crashes a gc after a snapshot's deletion at every
// file operation k: afterwards the store checks clean, every snapshot
// listed restores exactly, and the two kept snapshots are still there.
func TestReliabilityCrashGC(t *testing.T) {
	r := reliability.Start(t, "crash points: gc",
		"crashes a snapshot deletion and gc (packs dropped and rewritten) at every file operation k, then reopens and checks every remaining snapshot")
	ctx := context.Background()
	base, sets, op, kept := gcWorld(t, 3)
	for _, name := range []string{"stores that do not open", "corrupt stores", "half-visible snapshots",
		"snapshots naming a missing blob", "snapshots that do not restore", "snapshots with wrong bytes", "unreadable catalogs", "kept snapshots lost"} {
		r.Bad[name] = 0
	}
	n := crashEvery(ctx, t, base, op, func(w *world, at string) {
		s, found := storeCheck(ctx, t, w, sets, r, at)
		if s == nil {
			return
		}
		s.Close()
		for _, i := range kept {
			if found[i] == 0 {
				r.Bad["kept snapshots lost"]++
				t.Errorf("%s: the snapshot of set %d is gone", at, i)
			}
		}
	})
	r.Size = fmt.Sprintf("%d crash points (every k)", n)
	r.Figures["k values"] = fmt.Sprint(n)
	t.Logf("gc: %d crash points", n)
}

// TestReliabilityFaultGC fails the k-th file operation of the same gc with
// EIO, for every k: reported, store clean, and a retry collects.
func TestReliabilityFaultGC(t *testing.T) {
	r := reliability.Start(t, "injected EIO: gc",
		"fails the k-th file operation of a snapshot deletion and gc with EIO for every k; the error must be reported, the store stay clean and a retry succeed")
	base, sets, op, kept := gcWorld(t, 4)
	n := failEvery(context.Background(), t, base, op, sets, kept, r)
	r.Size = fmt.Sprintf("%d injected faults (every k)", n)
	r.Figures["k values"] = fmt.Sprint(n)
}
