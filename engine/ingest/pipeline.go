package ingest

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

// Options tune one volume's ingest. The zero value of every field but Cutter
// picks a sensible default.
type Options struct {
	// Cutter finds chunk boundaries; it MUST come from the store's config.
	Cutter *chunker.Cutter
	// Workers hash, compress and store chunks; default GOMAXPROCS.
	Workers int
	// BufferSize is the size of each read buffer; default 8 MiB.
	BufferSize int
	// Progress, when set, is called from one goroutine as work advances.
	Progress func(Progress)
	// ProgressEvery is the least time between two Progress calls; default 200ms.
	ProgressEvery time.Duration
	// Hint, when set, says what changed since a base snapshot, so that
	// unchanged runs are taken from the base's manifest without reading.
	Hint *Hint
}

// Progress reports how far a volume's ingest has come.
type Progress struct {
	Done      int64 // volume bytes chunked and stored, from offset 0
	Total     int64 // volume size
	ReadBytes int64 // bytes read from the source so far
	NewBytes  int64 // bytes of chunks the store did not have
}

// Stats describe one volume's ingest.
type Stats struct {
	volume.ManifestInfo
	ReadBytes   int64 // bytes read from the source (holes it reports are not read)
	CopiedBytes int64 // bytes whose entries a Hint let ingest take from the base
	NewChunks   int64 // chunks the store did not have
	NewBytes    int64 // their raw bytes
	ReadTime    time.Duration
	SegmentTime time.Duration // finding holes and chunk boundaries
	HashTime    time.Duration // summed over workers
	StoreTime   time.Duration // compressing and storing, summed over workers
}

// job is one extent of the volume on its way through the pipeline.
type job struct {
	off, length int64
	hole        bool
	copied      bool // entry taken from a base manifest, nothing to store
	data        []byte
	buf         *buffer
	entry       volume.Entry
	isNew       bool
	err         error
	done        chan struct{}
}

const jobsInFlight = 1024

// Volume ingests src into store and returns the manifest's info. Nothing it
// stores is durable until the caller flushes the store.
func Volume(ctx context.Context, store blob.Writer, src source.Reader, opts Options) (Stats, error) {
	if opts.Cutter == nil {
		return Stats{}, fmt.Errorf("ingest: no chunker configured")
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	maxChunk := opts.Cutter.Params().Max
	bufSize := max(opts.BufferSize, 8<<20, 2*readSize+maxChunk+HoleMin)

	var stats Stats
	g, gctx := errgroup.WithContext(ctx)

	bufs := make(chan *buffer, workers+3)
	for range cap(bufs) {
		bufs <- &buffer{data: make([]byte, bufSize), pool: bufs}
	}
	free := make(chan *job, jobsInFlight)
	for range jobsInFlight {
		free <- &job{done: make(chan struct{}, 1)}
	}
	work := make(chan *job, jobsInFlight)
	order := make(chan *job, jobsInFlight)

	var pl *plan
	if opts.Hint != nil && opts.Hint.Base != nil {
		var err error
		if pl, err = makePlan(ctx, opts.Hint, src.Size()); err != nil {
			return Stats{}, err
		}
	}
	seg := &segmenter{
		src: src, size: src.Size(), cut: opts.Cutter, max: maxChunk, plan: pl,
		bufs: bufs, stats: &stats,
		newJ: func(ctx context.Context) (*job, error) {
			select {
			case j := <-free:
				*j = job{done: j.done}
				return j, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
		emit: func(ctx context.Context, j *job) error {
			if j.hole {
				j.entry = volume.Entry{Hole: true, Length: j.length}
			}
			if j.hole || j.copied {
				j.done <- struct{}{}
			}
			order <- j // never blocks: at most jobsInFlight jobs exist
			if j.hole || j.copied {
				return nil
			}
			select {
			case work <- j:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}
	g.Go(func() error {
		defer close(order)
		defer close(work)
		return seg.run(gctx)
	})

	var hashNanos, storeNanos atomic.Int64
	for range workers {
		g.Go(func() error {
			for j := range work {
				// j belongs to the collector once storeChunk returns.
				if err := storeChunk(gctx, store, j, &hashNanos, &storeNanos); err != nil {
					return err
				}
			}
			return nil
		})
	}

	mw := volume.NewManifestWriter(store)
	g.Go(func() error {
		return collect(gctx, mw, order, free, &stats, src.Size(), opts)
	})
	if err := g.Wait(); err != nil {
		return Stats{}, err
	}
	info, err := mw.Finish(ctx)
	if err != nil {
		return Stats{}, err
	}
	stats.ManifestInfo = info
	stats.HashTime = time.Duration(hashNanos.Load())
	stats.StoreTime = time.Duration(storeNanos.Load())
	return stats, nil
}

// storeChunk hashes one chunk and stores it unless the store has it. An
// all-zero chunk becomes a hole.
func storeChunk(ctx context.Context, store blob.Writer, j *job, hashNanos, storeNanos *atomic.Int64) (err error) {
	defer func() {
		j.err = err
		j.buf.release()
		j.buf, j.data = nil, nil
		j.done <- struct{}{} // hands j to the collector: touch it no more
	}()
	if isZero(j.data) {
		j.entry = volume.Entry{Hole: true, Length: j.length}
		return nil
	}
	t0 := time.Now()
	id := blob.Sum(j.data)
	t1 := time.Now()
	hashNanos.Add(int64(t1.Sub(t0)))
	stored, err := store.Put(ctx, blob.Chunk, id, j.data)
	storeNanos.Add(int64(time.Since(t1)))
	if err != nil {
		return fmt.Errorf("store chunk at offset %d: %w", j.off, err)
	}
	j.entry = volume.Entry{ID: id, Length: j.length}
	j.isNew = stored
	return nil
}

// collect takes finished jobs back in volume order and writes the manifest.
func collect(ctx context.Context, mw *volume.ManifestWriter, order <-chan *job, free chan<- *job, stats *Stats, total int64, opts Options) error {
	every := opts.ProgressEvery
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	var last time.Time
	var done, newBytes int64
	report := func(force bool) {
		if opts.Progress == nil || (!force && time.Since(last) < every) {
			return
		}
		last = time.Now()
		opts.Progress(Progress{Done: done, Total: total, ReadBytes: atomic.LoadInt64(&stats.ReadBytes), NewBytes: newBytes})
	}
	for j := range order {
		select {
		case <-j.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if j.err != nil {
			return j.err
		}
		if j.off != done {
			return fmt.Errorf("ingest: extent at %d after %d: pipeline out of order", j.off, done)
		}
		if err := mw.Add(ctx, j.entry); err != nil {
			return err
		}
		done += j.length
		if j.isNew {
			stats.NewChunks++
			newBytes += j.length
		}
		free <- j
		report(false)
	}
	if done != total {
		return fmt.Errorf("ingest: covered %d of %d bytes", done, total)
	}
	stats.NewBytes = newBytes
	report(true)
	return nil
}
