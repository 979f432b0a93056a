package build

import (
	"context"
	"fmt"
	"runtime"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/diff"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/pipeline"

	"github.com/klauspost/compress/zstd"
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
		vjobs := planJobs(len(h.Volumes), d.Extents, vh.BaseSize, vh.TargetSize)
		jobs = append(jobs, vjobs...)
		h.Volumes = append(h.Volumes, vh)
		if len(d.Extents) == 0 {
			mans = append(mans, volPair{})
			continue
		}
		p, err := loadPair(ctx, r, vh, vjobs)
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
// the index of its chunks for copy records; dups maps changed chunks to
// an earlier place of the target that holds them (findTargetDups).
type volPair struct {
	base, target *volume.Manifest
	index        *copyIndex
	dups         map[int64]int64
}

func loadPair(ctx context.Context, r blob.Reader, vh delta.VolumeHeader, jobs []job) (volPair, error) {
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
	if p.index, err = buildCopyIndex(ctx, r, p.base); err != nil {
		return p, err
	}
	if delta.WriteVersion() >= delta.VersionTargetCopies {
		p.dups, err = findTargetDups(ctx, r, p.target, p.index, jobs)
	}
	return p, err
}

// slotResult is a job's encoded frames, or the error that stopped it, with
// the job's index so the consumer knows its volume.
type slotResult struct {
	jobResult
	i   int
	err error
}

// worker is one encoding goroutine's state: its refiner and the volume its
// readers are set for.
type worker struct {
	f   *refiner
	vol int
}

// runJobs refines and encodes jobs on workers and hands their frames to w
// in job order; at most 2×workers jobs are in flight, which bounds memory.
// A job's error is reported when its turn comes, so the first failing job
// in volume order is the one named.
func runJobs(ctx context.Context, r blob.Reader, mans []volPair, jobs []job, w delta.Sink, workers int) (delta.Summary, error) {
	ws := make([]worker, workers)
	defer func() {
		for _, x := range ws {
			if x.f != nil {
				x.f.enc.Close()
			}
		}
	}()
	var sum delta.Summary
	err := pipeline.Ordered(ctx, pipeline.Limits{Workers: workers, InFlight: 2 * workers},
		func(ctx context.Context, emit func(int) error) error {
			for i := range jobs {
				if err := emit(i); err != nil {
					return err
				}
			}
			return nil
		},
		func(ctx context.Context, wi int, i int, res *slotResult) error {
			x := &ws[wi]
			if x.f == nil {
				enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
					zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true))
				x.f = &refiner{enc: enc, hb: delta.NewFrameHasher(delta.WriteVersion()), ht: delta.NewFrameHasher(delta.WriteVersion())}
				x.vol = -1
			}
			j := &jobs[i]
			if j.vol != x.vol {
				m := &mans[j.vol]
				x.f.base, x.f.target, x.f.index, x.f.dups = newVolReader(r, m.base), newVolReader(r, m.target), m.index, m.dups
				x.vol = j.vol
			}
			res.i = i
			res.jobResult, res.err = x.f.encodeJob(ctx, j)
			return nil
		},
		func(ctx context.Context, res *slotResult) error {
			sum.Merge(&res.sum)
			if res.err != nil {
				return res.err
			}
			for k := range res.frames {
				if err := w.Put(jobs[res.i].vol, res.frames[k], res.recs[k]); err != nil {
					return err
				}
				putFrameBuf(res.frames[k])
			}
			res.jobResult = jobResult{}
			return nil
		})
	return sum, err
}
