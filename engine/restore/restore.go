package restore

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/durable"
	"github.com/vmrep/vmrep/internal/pipeline"
)

// Options tune a restore.
type Options struct {
	Workers  int                     // default GOMAXPROCS
	Progress func(done, total int64) // called from one goroutine
	Every    time.Duration           // least time between Progress calls; default 200ms
}

// Stats describe a restore.
type Stats struct {
	Size      int64 // volume size
	DataBytes int64 // bytes written
	Chunks    int64
	Holes     int64
}

type extent struct {
	off int64
	e   volume.Entry
}

// Volume writes the volume of manifest m into t. The target MUST be at least
// as large as the volume; every chunk is verified as it is read.
func Volume(ctx context.Context, r blob.Reader, m *volume.Manifest, t Target, opts Options) (Stats, error) {
	size, err := t.Size()
	if err != nil {
		return Stats{}, err
	}
	if size < m.Size {
		return Stats{}, fmt.Errorf("restore: target holds %d bytes, volume needs %d", size, m.Size)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	every := opts.Every
	if every <= 0 {
		every = 200 * time.Millisecond
	}

	var st Stats
	var done atomic.Int64
	bufs := make([][]byte, workers) // each worker's chunk buffer
	var last time.Time
	err = pipeline.Unordered(ctx, pipeline.Limits{Workers: workers, InFlight: 4 * workers},
		func(ctx context.Context, emit func(extent) error) error {
			return m.Walk(ctx, r, 0, func(off int64, e volume.Entry) error {
				if e.Hole {
					st.Holes++
					done.Add(e.Length)
					return t.Zero(off, e.Length)
				}
				st.Chunks++
				st.DataBytes += e.Length
				if opts.Progress != nil && time.Since(last) >= every {
					last = time.Now()
					opts.Progress(done.Load(), m.Size)
				}
				return emit(extent{off, e})
			})
		},
		func(ctx context.Context, w int, x extent) error {
			data, err := r.Get(ctx, x.e.ID, bufs[w])
			if err != nil {
				return fmt.Errorf("restore offset %d: %w", x.off, err)
			}
			bufs[w] = data
			if int64(len(data)) != x.e.Length {
				return fmt.Errorf("restore offset %d: chunk %s has %d bytes, manifest says %d", x.off, x.e.ID, len(data), x.e.Length)
			}
			if _, err := t.WriteAt(data, x.off); err != nil {
				return fmt.Errorf("restore offset %d: %w", x.off, err)
			}
			done.Add(x.e.Length)
			return nil
		})
	if err != nil {
		return Stats{}, err
	}
	if err := t.Sync(); err != nil {
		return Stats{}, err
	}
	if opts.Progress != nil {
		opts.Progress(m.Size, m.Size)
	}
	st.Size = m.Size
	return st, nil
}

// ToPath restores into path. A regular file is written under a temporary
// name beside it and renamed into place only when every byte is verified,
// so a failed restore never leaves a wrong file behind; the temporary files
// of restores into path whose process died are removed first. A block
// device is written in place.
func ToPath(ctx context.Context, r blob.Reader, m *volume.Manifest, path string, opts Options) (Stats, error) {
	if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeDevice != 0 {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return Stats{}, err
		}
		defer f.Close()
		t, err := NewFileTarget(f, false)
		if err != nil {
			return Stats{}, err
		}
		return Volume(ctx, r, m, t, opts)
	} else if err == nil && !fi.Mode().IsRegular() {
		return Stats{}, fmt.Errorf("restore: %s is not a regular file or block device", path)
	}

	removeStaleTemps(path)
	f, err := durable.Create(nil, path, durable.Options{Pattern: tmpPrefix(path, os.Getpid()) + "*"})
	if err != nil {
		return Stats{}, err
	}
	defer f.Close() // removes the temporary file unless committed
	if err := f.Truncate(m.Size); err != nil {
		return Stats{}, err
	}
	t, err := NewFileTarget(f.OS(), true)
	if err != nil {
		return Stats{}, err
	}
	st, err := Volume(ctx, r, m, t, opts)
	if err != nil {
		return Stats{}, err
	}
	if err := f.Commit(); err != nil { // Volume synced it; this fsync finds nothing left
		return Stats{}, err
	}
	return st, nil
}
