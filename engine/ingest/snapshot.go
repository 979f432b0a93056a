package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

// Store is what a snapshot needs of the store: blobs and the catalog's records.
type Store interface {
	blob.Writer
}

// Catalog is what a snapshot needs of the catalog.
type Catalog interface {
	ReserveSeq(ctx context.Context, vgID string) (uint64, error)
	Latest(ctx context.Context, vgID string) (volume.Snapshot, error)
	PutSnapshot(ctx context.Context, s volume.Snapshot) error
}

// SnapshotProgress reports a snapshot's progress over all its volumes.
type SnapshotProgress struct {
	Volume   string // name of the volume being read
	Index    int    // its position in the VG
	Progress        // within that volume
	VGDone   int64  // bytes done over the whole VG
	VGTotal  int64
}

// SnapshotOptions tune a snapshot.
type SnapshotOptions struct {
	Options
	// Progress replaces Options.Progress for snapshots.
	Progress func(SnapshotProgress)
	// Now gives the snapshot's creation time; default time.Now.
	Now func() time.Time
	// Pages, when set, lets the snapshot load the last snapshot's manifests
	// and read only what changed since, where a source can tell (see Hint).
	Pages blob.Reader
	// Full reads every volume whole, taking no hints.
	Full bool
	// Log, when set, is told of each hint taken.
	Log func(msg string)
}

// Opener opens the source of a volume.
type Opener func(ctx context.Context, v volume.Volume) (source.Reader, error)

// Aborter is a store writer that can take back what it has not sealed, as
// *cas.Writer can.
type Aborter interface {
	Abort(ctx context.Context) error
}

// StoredCounter is a store writer that counts the stored bytes of the blobs
// it added, as *cas.Writer does. Volumes are ingested one after the other,
// so the count's growth over one volume is what that volume added.
type StoredCounter interface {
	StoredBytes() int64
}

// Snapshot ingests every volume of vg, makes every chunk and page durable,
// and only then records the snapshot. On error nothing is recorded, and when
// store is an Aborter (a *cas.Writer of the job's own) the blobs it had not
// yet sealed are thrown away, so a bad source leaves the store as it was.
func Snapshot(ctx context.Context, store Store, cat Catalog, vg volume.VG, open Opener, opts SnapshotOptions) (volume.Snapshot, []Stats, error) {
	snap, stats, err := snapshot(ctx, store, cat, vg, open, opts)
	if err != nil {
		if a, ok := store.(Aborter); ok {
			a.Abort(context.WithoutCancel(ctx))
		}
	}
	return snap, stats, err
}

func snapshot(ctx context.Context, store Store, cat Catalog, vg volume.VG, open Opener, opts SnapshotOptions) (volume.Snapshot, []Stats, error) {
	srcs := make([]source.Reader, len(vg.Volumes))
	defer func() {
		for _, s := range srcs {
			if s != nil {
				s.Close()
			}
		}
	}()
	var total int64
	for i, v := range vg.Volumes {
		s, err := open(ctx, v)
		if err != nil {
			return volume.Snapshot{}, nil, fmt.Errorf("snapshot vg %q volume %q: %w", vg.Name, v.Name, err)
		}
		srcs[i] = s
		total += s.Size()
	}

	var prev volume.Snapshot
	// A tracked source needs the last snapshot even for a full read: its
	// dirty bitmap is retired once this one is recorded.
	if opts.Pages != nil && !opts.Full || hasTracker(srcs) {
		var err error
		if prev, err = cat.Latest(ctx, vg.ID); err != nil && !isNotFound(err) {
			return volume.Snapshot{}, nil, err
		}
	}
	tracks, err := startTracking(ctx, opts.Pages, vg, srcs, prev, opts.Full)
	committed := false
	defer func() { finishTracking(ctx, tracks, committed, opts.Log) }()
	if err != nil {
		return volume.Snapshot{}, nil, fmt.Errorf("snapshot vg %q %w", vg.Name, err)
	}
	snap := volume.Snapshot{VGID: vg.ID, VGName: vg.Name}
	all := make([]Stats, len(vg.Volumes))
	var before int64
	for i, v := range vg.Volumes {
		vo := opts.Options
		if tr := tracks[i]; tr != nil {
			vo.Hint = tr.hint
			if opts.Log != nil {
				opts.Log(fmt.Sprintf("volume %s: %s", v.Name, tr.note))
			}
		} else if pv, ok := prev.Volume(v.ID); ok && opts.Pages != nil && !opts.Full {
			h, why, err := findHint(ctx, opts.Pages, srcs[i], pv)
			if err != nil {
				return volume.Snapshot{}, nil, fmt.Errorf("snapshot vg %q volume %q: %w", vg.Name, v.Name, err)
			}
			if h != nil {
				vo.Hint = h
				if opts.Log != nil {
					opts.Log(fmt.Sprintf("volume %s: %s: reading %d changed ranges", v.Name, why, len(h.Changed)))
				}
			}
		}
		stamp := stampOf(srcs[i])
		if opts.Progress != nil {
			vo.Progress = func(p Progress) {
				opts.Progress(SnapshotProgress{Volume: v.Name, Index: i, Progress: p, VGDone: before + p.Done, VGTotal: total})
			}
		}
		counter, counted := store.(StoredCounter)
		var storedBefore int64
		if counted {
			storedBefore = counter.StoredBytes()
		}
		st, err := Volume(ctx, store, srcs[i], vo)
		if err != nil {
			return volume.Snapshot{}, nil, fmt.Errorf("snapshot vg %q volume %q from %s: %w", vg.Name, v.Name, v.Source, err)
		}
		before += st.Size
		all[i] = st
		vs := volume.VolumeSnapshot{
			VolumeID: v.ID, Name: v.Name, Role: v.Role, Size: st.Size,
			Manifest: st.ID, DataBytes: st.DataBytes, Chunks: st.Chunks, Holes: st.Holes,
			NewBytes: st.NewBytes, ReadBytes: st.ReadBytes, BaseBytes: st.BaseBytes,
		}
		if tr := tracks[i]; tr != nil {
			vs.DirtyBitmap, vs.ReadNote = tr.token, tr.note
			if st.BaseBytes > 0 {
				vs.ReadNote += fmt.Sprintf("; %d unchanged bytes around them from the last snapshot", st.BaseBytes)
			}
		}
		if counted {
			vs.StoredBytes, vs.StoredCounted = counter.StoredBytes()-storedBefore, true
		}
		stamp.vouch(srcs[i], &vs)
		snap.Volumes = append(snap.Volumes, vs)
	}
	if err := store.Flush(ctx); err != nil {
		return volume.Snapshot{}, nil, fmt.Errorf("snapshot vg %q: make data durable: %w", vg.Name, err)
	}
	snap, all, err = commit(ctx, cat, snap, opts.Now, all)
	committed = err == nil
	return snap, all, err
}

// commit writes the snapshot record, last.
func commit(ctx context.Context, cat Catalog, snap volume.Snapshot, now func() time.Time, all []Stats) (volume.Snapshot, []Stats, error) {
	if now == nil {
		now = time.Now
	}
	if parent, err := cat.Latest(ctx, snap.VGID); err == nil {
		snap.Parent = parent.ID
	} else if !isNotFound(err) {
		return volume.Snapshot{}, nil, err
	}
	seq, err := cat.ReserveSeq(ctx, snap.VGID)
	if err != nil {
		return volume.Snapshot{}, nil, err
	}
	snap.Seq = seq
	snap.ID = volume.NewSnapshotID()
	snap.Created = now().UTC()
	if err := cat.PutSnapshot(ctx, snap); err != nil {
		return volume.Snapshot{}, nil, fmt.Errorf("snapshot vg %q: record snapshot %d: %w", snap.VGName, seq, err)
	}
	return snap, all, nil
}
