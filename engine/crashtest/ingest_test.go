package crashtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/internal/reliability"
)

// TestReliabilityCrashIngest crashes a small ingest (a VG of two volumes,
// two snapshots) at every file operation k, then reopens the store and
// checks it: verify --read-data clean, every snapshot listed whole and
// restoring byte for byte to what was ingested.
func TestReliabilityCrashIngest(t *testing.T) {
	r := reliability.Start(t, "crash points: ingest",
		"crashes a two-snapshot ingest of a two-volume VG at every file operation k, dropping unsynced writes, then reopens and checks the store")
	ctx := context.Background()
	size := reliability.Size(32<<10, 256<<10)
	sets := makeSets(1, 2, size)
	work := t.TempDir()
	op := func(s *cas.Store) error {
		for _, set := range sets {
			if err := snapshotSet(ctx, s, set, work); err != nil {
				return err
			}
		}
		return nil
	}
	base := newStoreWorld(t, storeConfig())
	for _, name := range []string{"stores that do not open", "corrupt stores", "half-visible snapshots",
		"snapshots naming a missing blob", "snapshots that do not restore", "snapshots with wrong bytes", "unreadable catalogs"} {
		r.Bad[name] = 0
	}
	n := crashEvery(ctx, t, base, op, func(w *world, at string) {
		if s, _ := storeCheck(ctx, t, w, sets, r, at); s != nil {
			s.Close()
		}
	})
	r.Size = fmt.Sprintf("%d crash points (every k), 2 volumes of %d KiB, 2 snapshots", n, size>>10)
	r.Figures["k values"] = fmt.Sprint(n)
	t.Logf("ingest: %d crash points", n)
}

// TestReliabilityFaultIngest fails the k-th file operation of the same
// ingest with EIO, for every k: the ingest must report it (when it was a
// write, sync or rename), leave a store that checks clean, and a retry
// must succeed.
func TestReliabilityFaultIngest(t *testing.T) {
	r := reliability.Start(t, "injected EIO: ingest",
		"fails the k-th file operation of a two-snapshot ingest with EIO for every k; the error must be reported, the store stay clean and a retry succeed")
	ctx := context.Background()
	sets := makeSets(2, 2, reliability.Size(16<<10, 256<<10))
	work := t.TempDir()
	op := func(s *cas.Store) error {
		for _, set := range sets {
			if err := snapshotSet(ctx, s, set, work); err != nil {
				return err
			}
		}
		return nil
	}
	n := failEvery(ctx, t, newStoreWorld(t, storeConfig()), op, sets, []int{0, 1}, r)
	r.Size = fmt.Sprintf("%d injected faults (every k)", n)
	r.Figures["k values"] = fmt.Sprint(n)
}

// failEvery fails the k-th file operation of op with EIO for every k of
// a clean run, checks the store, retries op and checks that the known
// sets numbered in must are then held by a snapshot. It returns N.
func failEvery(ctx context.Context, t *testing.T, base *world, op func(*cas.Store) error, want []imageSet, must []int, r *reliability.Result) int {
	t.Helper()
	n := countOps(ctx, t, base, op)
	for _, name := range []string{"stores that do not open", "corrupt stores", "half-visible snapshots", "snapshots naming a missing blob",
		"snapshots that do not restore", "snapshots with wrong bytes", "unreadable catalogs", "faults not reported", "retries that failed", "snapshots missing after a retry"} {
		r.Bad[name] = 0
	}
	absorbed := 0
	for k := 1; k <= n; k++ {
		w := base.clone()
		s, err := w.open(ctx)
		if err != nil {
			t.Fatalf("k=%d: open: %v", k, err)
		}
		w.fs.Fail(k)
		err = op(s)
		s.Close()
		hit := w.fs.Hit()
		at := fmt.Sprintf("EIO at op %d of %d (%s)", k, n, hit)
		if err == nil && hit != "" {
			if mustReport(hit) {
				r.Bad["faults not reported"]++
				t.Errorf("%s: the operation succeeded", at)
			} else {
				absorbed++
			}
		}
		// A power cut right after the failure must find a sound store too.
		if s, _ := storeCheck(ctx, t, w.clone(), want, r, at+", then a crash"); s != nil {
			s.Close()
		}
		s, _ = storeCheck(ctx, t, w, want, r, at)
		if s == nil {
			continue
		}
		if err := op(s); err != nil {
			r.Bad["retries that failed"]++
			t.Errorf("%s: retry: %v", at, err)
		}
		s.Close()
		// What the retry did must be durable: a power cut right after it
		// keeps only what was synced (an EIO must not leave a name unsynced
		// that a later write relies on).
		if s, found := storeCheck(ctx, t, w.clone(), want, r, at+", after the retry and a crash"); s != nil {
			s.Close()
			for _, i := range must {
				if found[i] == 0 {
					r.Bad["snapshots missing after a retry"]++
					t.Errorf("%s: after the retry no snapshot holds set %d", at, i)
				}
			}
		}
		if t.Failed() && !reliability.Full() {
			break
		}
	}
	r.Figures["faults absorbed (removals of temp files)"] = fmt.Sprint(absorbed)
	return n
}

// mustReport says whether a failed operation must fail the job: anything
// but the removal of what is no longer needed.
func mustReport(hit string) bool {
	return !strings.HasPrefix(hit, "remove ") && !strings.HasPrefix(hit, "removeall ")
}
