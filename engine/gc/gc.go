package gc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/volume"
)

// Store is what a collection needs of the store.
type Store interface {
	blob.Reader
	Stats(ctx context.Context) (cas.Stats, error)
	Sweep(ctx context.Context, live func(blob.ID) bool, opts cas.SweepOptions) (cas.SweepStats, error)
	// DamagedRecords lists record files that do not read back whole.
	DamagedRecords() []string
}

// ErrDamagedRecords refuses a collection while a record file is damaged:
// the catalog cannot list what such a record names, so its data would look
// dead.
var ErrDamagedRecords = errors.New("record files are damaged")

// Catalog lists what is live.
type Catalog interface {
	ListVGs(ctx context.Context) ([]volume.VG, error)
	ListSnapshots(ctx context.Context, vgID string) ([]volume.Snapshot, error)
}

// Options tune a collection.
type Options struct {
	DryRun   bool // mark and count, delete nothing
	Progress func(phase string, done, total int64)

	// Pending, when set, makes the collection two-phase, for storage that
	// other stores write too: a blob found dead is held and listed in the
	// pending object, and only a later run deletes it, once Grace has
	// passed since it was first found dead and if it is still dead then.
	// Grace must exceed any writer's lock lease (doc/design.md).
	Pending ControlObjects
	Grace   time.Duration
	Now     func() time.Time // nil: time.Now
}

// Stats describe a collection. ChunkRefs counts references, not chunks:
// a chunk named twice counts twice, so it can exceed the store's blob
// count. The Bloom filter cannot be counted, so distinct live and dead
// blobs come from the sweep's walk of the index (SweepStats).
type Stats struct {
	Snapshots  int
	LivePages  int
	ChunkRefs  int64 // chunk entries of the pages walked (each page once)
	StoreBlobs int64
	// PendingBlobs are dead blobs held for the grace period (two-phase
	// collection only); they count as live in SweepStats.
	PendingBlobs int64
	cas.SweepStats
}

// Run marks every blob a snapshot refers to and sweeps the rest; with
// DryRun the sweep only counts and plans.
func Run(ctx context.Context, s Store, cat Catalog, opts Options) (Stats, error) {
	var st Stats
	if d := s.DamagedRecords(); len(d) > 0 {
		return st, fmt.Errorf("gc: refusing to collect: %w (%s%s); the data of the snapshots they name would look unused. Restore the file or, to give that data up, remove it from the store and restart vmrepd",
			ErrDamagedRecords, d[0], more(len(d)-1))
	}
	ss, err := s.Stats(ctx)
	if err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	st.StoreBlobs = ss.Blobs
	chunks := newBloom(ss.Blobs)
	pages := make(map[blob.ID]struct{})
	if err := mark(ctx, s, cat, chunks, pages, &st, opts); err != nil {
		return st, err
	}
	st.LivePages = len(pages)
	live := func(id blob.ID) bool {
		if _, ok := pages[id]; ok {
			return true
		}
		return chunks.has(id)
	}
	var tp *twoPhase
	if opts.Pending != nil {
		old, err := loadPending(ctx, opts.Pending)
		if err != nil {
			return st, err
		}
		now := time.Now
		if opts.Now != nil {
			now = opts.Now
		}
		tp = &twoPhase{old: old, next: pending{}, now: now(), grace: opts.Grace}
		live = tp.live(live)
	}
	if opts.Progress != nil {
		opts.Progress("sweep", 0, 0)
	}
	sw, err := s.Sweep(ctx, live, cas.SweepOptions{DryRun: opts.DryRun})
	st.SweepStats = sw
	if err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	if tp != nil {
		st.PendingBlobs = int64(len(tp.next))
		if !opts.DryRun {
			if err := opts.Pending.WriteControl(ctx, PendingObject, tp.next.encode()); err != nil {
				return st, fmt.Errorf("gc: saving the pending list: %w", err)
			}
		}
	}
	return st, nil
}

func mark(ctx context.Context, r blob.Reader, cat Catalog, chunks *bloom, pages map[blob.ID]struct{}, st *Stats, opts Options) error {
	vgs, err := cat.ListVGs(ctx)
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	var page volume.Page
	var buf []byte
	for _, vg := range vgs {
		snaps, err := cat.ListSnapshots(ctx, vg.ID)
		if err != nil {
			return fmt.Errorf("gc: %w", err)
		}
		for _, sn := range snaps {
			st.Snapshots++
			if opts.Progress != nil {
				opts.Progress("mark", int64(st.Snapshots), 0)
			}
			for _, v := range sn.Volumes {
				// A manifest that cannot be read is an error, never a
				// reason to treat its chunks as dead.
				m, err := volume.LoadManifest(ctx, r, v.Manifest)
				if err != nil {
					return fmt.Errorf("gc: snapshot %s volume %q: %w", sn.Name(), v.Name, err)
				}
				pages[m.ID] = struct{}{}
				for i, ref := range m.Pages {
					if _, ok := pages[ref.ID]; ok {
						continue
					}
					if buf, err = m.LoadPageInto(ctx, r, i, &page, buf); err != nil {
						return fmt.Errorf("gc: snapshot %s volume %q page %d: %w", sn.Name(), v.Name, i, err)
					}
					pages[ref.ID] = struct{}{}
					for _, e := range page.Entries {
						if !e.Hole {
							chunks.add(e.ID)
							st.ChunkRefs++
						}
					}
				}
			}
		}
	}
	return nil
}

// more says how many further items a message left out.
func more(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" and %d more", n)
}
