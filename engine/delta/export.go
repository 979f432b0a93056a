package delta

import (
	"context"
	"fmt"
	"runtime"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/vmrep/vmrep/engine/diff"
	"github.com/vmrep/vmrep/engine/volume"
)

// ExportOptions tune an export.
type ExportOptions struct {
	Workers int // refine and compress in parallel; default GOMAXPROCS
}

// Summary describes an exported, opened or applied delta.
type Summary struct {
	Volumes      int   `json:"volumes"`
	Records      int64 `json:"records"`
	DataBytes    int64 `json:"data_bytes"`   // volume bytes in data records
	ZeroBytes    int64 `json:"zero_bytes"`   // volume bytes in zero records
	CopyBytes    int64 `json:"copy_bytes"`   // volume bytes in copy records
	StoredBytes  int64 `json:"stored_bytes"` // compressed data bytes
	FileBytes    int64 `json:"file_bytes"`   // the delta's size on disk
	Written      int64 `json:"written"`      // apply: records written
	Skipped      int64 `json:"skipped"`      // apply: records already at the target
	Verified     int   `json:"verified"`     // apply: volumes checked after (or, at the target, instead of) writing
	Repaired     int64 `json:"repaired"`     // apply: of Written, ranges torn by an interrupted apply
	ChangedBytes int64 `json:"changed_bytes"`
}

func (s *Summary) add(r *Record) {
	s.Records++
	switch r.Kind {
	case KindData:
		s.DataBytes += r.Len
		s.StoredBytes += int64(len(r.Stored))
	case KindZero:
		s.ZeroBytes += r.Len
	case KindCopy:
		s.CopyBytes += r.Len
	}
}

func (s *Summary) merge(o *Summary) {
	s.Records += o.Records
	s.DataBytes += o.DataBytes
	s.ZeroBytes += o.ZeroBytes
	s.CopyBytes += o.CopyBytes
	s.StoredBytes += o.StoredBytes
}

// Export writes the delta that turns base into target to w. Volumes are
// matched by volume ID; a volume only the target has is added whole, one
// only the base has is left out (the replica keeps its file).
func Export(ctx context.Context, r blob.Reader, base, target volume.Snapshot, w Sink, opts ExportOptions) (Summary, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	diffs, err := diff.Snapshots(ctx, r, base, target, diff.Options{Workers: workers})
	if err != nil {
		return Summary{}, fmt.Errorf("export %s..%s: %w", base.Name(), target.Name(), err)
	}
	h := &Header{VGID: target.VGID, VGName: target.VGName,
		Base: SnapRef{base.ID, base.Seq}, Target: SnapRef{target.ID, target.Seq}}
	var jobs []job
	var mans []volPair
	for _, d := range diffs {
		if d.Change == diff.Removed {
			continue
		}
		vh := VolumeHeader{ID: d.VolumeID, Name: d.Name, Role: d.Target.Role, Added: d.Change == diff.Added,
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
			return Summary{}, fmt.Errorf("export %s..%s volume %q: %w", base.Name(), target.Name(), vh.Name, err)
		}
		mans = append(mans, p)
	}
	if err := w.begin(h); err != nil {
		return Summary{}, err
	}
	sum, err := runJobs(ctx, r, mans, jobs, w, workers)
	if err != nil {
		w.abort()
		return Summary{}, fmt.Errorf("export %s..%s: %w", base.Name(), target.Name(), err)
	}
	if sum.FileBytes, err = w.finish(); err != nil {
		w.abort()
		return Summary{}, fmt.Errorf("export %s..%s: %w", base.Name(), target.Name(), err)
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

func loadPair(ctx context.Context, r blob.Reader, vh VolumeHeader) (volPair, error) {
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
func runJobs(ctx context.Context, r blob.Reader, mans []volPair, jobs []job, w Sink, workers int) (Summary, error) {
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
			f := &refiner{enc: enc, hb: newFrameHasher(writeVersion), ht: newFrameHasher(writeVersion)}
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
	var sum Summary
	var err error
	for i := 0; i < len(jobs) && err == nil; i++ {
		res := results[i]
		<-res.done
		err = res.err
		sum.merge(&res.sum)
		for k := 0; k < len(res.frames) && err == nil; k++ {
			err = w.put(jobs[i].vol, res.frames[k], res.recs[k])
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
