package main

import (
	"context"
	"time"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/diff"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/volume"
)

func doDiff(ctx context.Context, a args) (Result, error) {
	st, base, target, err := openPair(ctx, a)
	if err != nil {
		return Result{}, err
	}
	defer st.Close()
	t := time.Now()
	vds, err := diff.Snapshots(ctx, st, base, target, diff.Options{})
	if err != nil {
		return Result{}, err
	}
	r := Result{Seconds: since(t)}
	for _, d := range vds {
		r.Bytes += d.Stats.TargetSize
		r.Changed += d.Stats.ChangedBytes
		r.Extents += d.Stats.Extents
		r.Chunks += d.Stats.ChangedChunks
		r.PagesRead += d.Stats.PagesRead
		r.PagesSkipped += d.Stats.PagesSkipped
	}
	return r, nil
}

func doExport(ctx context.Context, a args) (Result, error) {
	st, base, target, err := openPair(ctx, a)
	if err != nil {
		return Result{}, err
	}
	defer st.Close()
	t := time.Now()
	s, err := build.Export(ctx, st, base, target, delta.FileSink(*a.out), build.ExportOptions{})
	if err != nil {
		return Result{}, err
	}
	return Result{Seconds: since(t), Bytes: target.Volumes[0].Size, Changed: s.ChangedBytes,
		DeltaBytes: s.FileBytes, Written: s.DataBytes + s.ZeroBytes, Stored: s.StoredBytes, TargetCopy: s.TargetCopyBytes}, nil
}

func doReplica(ctx context.Context, a args) (Result, error) {
	st, snap, err := openSnap(ctx, a, *a.seq)
	if err != nil {
		return Result{}, err
	}
	defer st.Close()
	t := time.Now()
	if _, err := replica.CreateReplica(ctx, st, snap, *a.dir, replica.ReplicaOptions{}); err != nil {
		return Result{}, err
	}
	return Result{Seconds: since(t), Bytes: snap.Volumes[0].Size}, nil
}

func doApply(ctx context.Context, a args) (Result, error) {
	t := time.Now()
	open := delta.OpenForApply
	if *a.checkFirst {
		open = delta.Open
	}
	rd, err := open(ctx, *a.delta)
	if err != nil {
		return Result{}, err
	}
	s, err := replica.Apply(ctx, rd, *a.dir, replica.ApplyOptions{})
	if err != nil {
		return Result{}, err
	}
	return Result{Seconds: since(t), DeltaBytes: s.FileBytes, Changed: s.ChangedBytes, Written: s.DataBytes + s.ZeroBytes}, nil
}

// openPair opens the store and resolves the -base and -target snapshots.
func openPair(ctx context.Context, a args) (*cas.Store, volume.Snapshot, volume.Snapshot, error) {
	st, base, err := openSnap(ctx, a, *a.base)
	if err != nil {
		return nil, base, base, err
	}
	target, err := resolve(ctx, st, a, *a.target)
	if err != nil {
		st.Close()
		return nil, base, target, err
	}
	return st, base, target, nil
}
