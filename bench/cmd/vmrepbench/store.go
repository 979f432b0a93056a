package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

func doInit(ctx context.Context, a args) (Result, error) {
	t := time.Now()
	if err := cas.Init(ctx, *a.store, cas.DefaultConfig()); err != nil {
		return Result{}, err
	}
	return Result{Seconds: since(t)}, nil
}

// doIngest snapshots the image as the one boot volume of the VG, creating
// the VG on first use and pointing its volume at the image otherwise.
func doIngest(ctx context.Context, a args) (Result, error) {
	st, err := cas.Open(ctx, *a.store, cas.Options{})
	if err != nil {
		return Result{}, err
	}
	defer st.Close()
	fi, err := os.Stat(*a.image)
	if err != nil {
		return Result{}, err
	}
	cat := volume.NewCatalog(st)
	vg, err := cat.GetVG(ctx, *a.vg)
	switch {
	case errors.Is(err, volume.ErrNotFound):
		vg, err = cat.CreateVG(ctx, volume.VG{ID: volume.NewVGID(), Name: *a.vg, Created: time.Now(),
			Volumes: []volume.Volume{{ID: volume.NewVolumeID(), Name: "disk", Role: volume.RoleBoot, Size: fi.Size(), Source: *a.image}}})
		if err != nil {
			return Result{}, err
		}
	case err != nil:
		return Result{}, err
	default:
		vg.Volumes[0].Source, vg.Volumes[0].Size = *a.image, fi.Size()
		if err := cat.UpdateVG(ctx, vg); err != nil {
			return Result{}, err
		}
		if vg, err = cat.GetVG(ctx, *a.vg); err != nil {
			return Result{}, err
		}
	}
	cut, err := ingest.NewCutter(st.Config().Chunker)
	if err != nil {
		return Result{}, err
	}
	open := func(ctx context.Context, v volume.Volume) (source.Reader, error) { return source.Open(ctx, v.Source) }
	t := time.Now()
	snap, stats, err := ingest.Snapshot(ctx, st, cat, vg, open, ingest.SnapshotOptions{Options: ingest.Options{Cutter: cut}})
	if err != nil {
		return Result{}, err
	}
	r := Result{Seconds: since(t), Seq: snap.Seq}
	for _, s := range stats {
		r.Bytes += s.Size
		r.Read += s.ReadBytes
		r.New += s.NewBytes
		r.Chunks += s.Chunks
		r.ReadS += s.ReadTime.Seconds()
		r.SegmentS += s.SegmentTime.Seconds()
		r.HashS += s.HashTime.Seconds()
		r.StoreS += s.StoreTime.Seconds()
	}
	for _, v := range snap.Volumes {
		r.Stored += v.StoredBytes
	}
	return r, nil
}

// openSnap opens the store and resolves vg@seq.
func openSnap(ctx context.Context, a args, seq uint64) (*cas.Store, volume.Snapshot, error) {
	st, err := cas.Open(ctx, *a.store, cas.Options{})
	if err != nil {
		return nil, volume.Snapshot{}, err
	}
	snap, err := resolve(ctx, st, a, seq)
	if err != nil {
		st.Close()
		return nil, volume.Snapshot{}, err
	}
	return st, snap, nil
}

// resolve finds vg@seq in an open store.
func resolve(ctx context.Context, st *cas.Store, a args, seq uint64) (volume.Snapshot, error) {
	_, snap, err := volume.NewCatalog(st).Resolve(ctx, fmt.Sprintf("%s@%d", *a.vg, seq))
	return snap, err
}

func doRestore(ctx context.Context, a args) (Result, error) {
	st, snap, err := openSnap(ctx, a, *a.seq)
	if err != nil {
		return Result{}, err
	}
	defer st.Close()
	t := time.Now()
	m, err := volume.LoadManifest(ctx, st, snap.Volumes[0].Manifest)
	if err != nil {
		return Result{}, err
	}
	s, err := restore.ToPath(ctx, st, m, *a.out, restore.Options{})
	if err != nil {
		return Result{}, err
	}
	return Result{Seconds: since(t), Bytes: s.Size, Written: s.DataBytes, Chunks: s.Chunks}, nil
}
