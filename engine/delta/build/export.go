package build

import (
	"context"
	"fmt"
	"runtime"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/diff"
	"github.com/vmrep/vmrep/engine/volume"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"
)

// ExportOptions tune an export.
type ExportOptions struct {
	Workers int // refine and compress in parallel; default GOMAXPROCS
}

// Export writes the delta that turns base into target to w. Volumes are
// matched by volume ID; a volume only the target has is added whole, one
// only the base has is left out (the replica keeps its file).
func Export(ctx context.Context, r blob.Reader, base, target volume.Snapshot, w delta.Sink, opts ExportOptions) (delta.Summary, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	diffs, err := diff.Snapshots(ctx, r, base, target, diff.Options{Workers: workers})
	if err != nil {
		return delta.Summary{}, fmt.Errorf("export %s..%s: %w", base.Name(), target.Name(), err)
	}
	h := &delta.Header{VGID: target.VGID, VGName: target.VGName,
		Base: delta.SnapRef{ID: base.ID, Seq: base.Seq}, Target: delta.SnapRef{ID: target.ID, Seq: target.Seq}}
	var jobs []job
	var mans []volPair
	for _, d := range diffs {
		if d.Change == diff.Removed {
			continue
		}
		vh := delta.VolumeHeader{ID: d.VolumeID, Name: d.Name, Role: d.Target.Role, Added: d.Change == diff.Added,
			TargetManifest: d.Target.Manifest, TargetSize: d.Target.Size}
		if !vh.Added {
			vh.BaseManifest, vh.BaseSize = d.Base.Manifest, d.Base.Size
		}
		jobs = append(jobs, planJobs(len(h.Volumes), d.Extents, vh.BaseSize, vh.TargetSize)...)
		h.Volumes = append(h.Volumes, vh)
		if len(d.Extents) == 0 {
			mans = append(mans, volPair{})
			continue
		}
		p, err := loadPair(ctx, r, vh)
		if err != nil {
			return delta.Summary{}, fmt.Errorf("export %s..%s volume %q: %w", base.Name(), target.Name(), vh.Name, err)
		}
		mans = append(mans, p)
	}
	if err := w.Begin(h); err != nil {
		return delta.Summary{}, err
	}
	sum, err := runJobs(ctx, r, mans, jobs, w, workers)
	if err != nil {
		w.Abort()
		return delta.Summary{}, fmt.Errorf("export %s..%s: %w", base.Name(), target.Name(), err)
	}
	if sum.FileBytes, err = w.Finish(); err != nil {
		w.Abort()
		return delta.Summary{}, fmt.Errorf("export %s..%s: %w", base.Name(), target.Name(), err)
	}
	sum.Volumes = len(h.Volumes)
	return sum, nil
}

// volPair is one volume's manifests and, when the base is small enough,
// the index of its chunks for copy records.
type volPair struct {
	base, target *volume.Manifest
	index        *copyIndex
}

func loadPair(ctx context.Context, r blob.Reader, vh delta.VolumeHeader) (volPair, error) {
	var p volPair
	var err error
	if !vh.Added {
		if p.base, err = volume.LoadManifest(ctx, r, vh.BaseManifest); err != nil {
			return p, err
		}
	}
	if p.target, err = volume.LoadManifest(ctx, r, vh.TargetManifest); err != nil {
		return p, err
	}
	p.index, err = buildCopyIndex(ctx, r, p.base)
	return p, err
}

type result struct {
	jobResult
	err  error
	done chan struct{}
}

// runJobs refines and encodes jobs on workers and hands their frames to w
// in job order; at most 2×workers jobs are in flight, which bounds memory.
func runJobs(ctx context.Context, r blob.Reader, mans []volPair, jobs []job, w delta.Sink, workers int) (delta.Summary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan int)
	results := make([]*result, len(jobs))
	for i := range results {
		results[i] = &result{done: make(chan struct{})}
	}
	var g errgroup.Group
	for range workers {
		g.Go(func() error {
			enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
				zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true))
			defer enc.Close()
			f := &refiner{enc: enc, hb: delta.NewFrameHasher(delta.WriteVersion()), ht: delta.NewFrameHasher(delta.WriteVersion())}
			vol := -1
			for i := range work {
				j := &jobs[i]
				if j.vol != vol {
					m := &mans[j.vol]
					f.base, f.target, f.index = newVolReader(r, m.base), newVolReader(r, m.target), m.index
					vol = j.vol
				}
				res := results[i]
				res.jobResult, res.err = f.encodeJob(ctx, j)
				close(res.done)
			}
			return nil
		})
	}
	window := make(chan struct{}, 2*workers)
	g.Go(func() error {
		defer close(work)
		for i := range jobs {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			select {
			case work <- i:
			case <-ctx.Done():
				return nil
			}
		}
		return nil
	})
	var sum delta.Summary
	var err error
	for i := 0; i < len(jobs) && err == nil; i++ {
		res := results[i]
		<-res.done
		err = res.err
		sum.Merge(&res.sum)
		for k := 0; k < len(res.frames) && err == nil; k++ {
			err = w.Put(jobs[i].vol, res.frames[k], res.recs[k])
			putFrameBuf(res.frames[k])
		}
		results[i] = nil
		<-window
	}
	cancel()
	// Release the feeder, then wait for every worker to return.
	go func() {
		for range window {
		}
	}()
	g.Wait()
	close(window)
	return sum, err
}
