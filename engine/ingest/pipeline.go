package ingest

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/pipeline"
	"github.com/vmrep/vmrep/internal/zero"
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
	BaseBytes   int64 // bytes an exact Hint let ingest take from the base's chunks instead
	CopiedBytes int64 // bytes whose entries a Hint let ingest take from the base
	NewChunks   int64 // chunks the store did not have
	NewBytes    int64 // their raw bytes
	ReadTime    time.Duration
	SegmentTime time.Duration // finding holes and chunk boundaries
	HashTime    time.Duration // summed over workers
	StoreTime   time.Duration // compressing and storing, summed over workers
}

// extent is one run of the volume on its way through the pipeline: a
// chunk, a hole, or an entry a Hint let ingest take from the base.
type extent struct {
	off, length int64
	hole        bool
	copied      bool         // entry taken from a base manifest, nothing to store
	entry       volume.Entry // of a copied extent
	data        []byte       // of a chunk, in buf
	buf         *buffer
}

// stored is an extent's manifest entry, once its chunk is stored.
type stored struct {
	off, length int64
	entry       volume.Entry
	isNew       bool
}

const extentsInFlight = 1024

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
	bufs := make(chan *buffer, workers+3)
	for range cap(bufs) {
		bufs <- &buffer{data: make([]byte, bufSize), pool: bufs}
	}

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
	}
	if pl != nil {
		seg.splice = newSplicer(ctx, src, opts.Hint, src.Size())
	}
	var hashNanos, storeNanos atomic.Int64
	mw := volume.NewManifestWriter(store)
	col := newCollector(mw, &stats, src.Size(), opts)
	err := pipeline.Ordered(ctx, pipeline.Limits{Workers: workers, InFlight: extentsInFlight},
		func(ctx context.Context, emit func(extent) error) error {
			seg.emit = emit
			return seg.run(ctx)
		},
		func(ctx context.Context, _ int, x extent, out *stored) error {
			*out = stored{off: x.off, length: x.length}
			switch {
			case x.hole:
				out.entry = volume.Entry{Hole: true, Length: x.length}
				return nil
			case x.copied:
				out.entry = x.entry
				return nil
			}
			return storeChunk(ctx, store, x, out, &hashNanos, &storeNanos)
		},
		col.add)
	if err == nil {
		err = col.finish()
	}
	if err != nil {
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
// all-zero chunk becomes a hole. The chunk's buffer is released either way.
func storeChunk(ctx context.Context, store blob.Writer, x extent, out *stored, hashNanos, storeNanos *atomic.Int64) error {
	defer x.buf.release()
	if zero.Is(x.data) {
		out.entry = volume.Entry{Hole: true, Length: x.length}
		return nil
	}
	t0 := time.Now()
	id := blob.Sum(x.data)
	t1 := time.Now()
	hashNanos.Add(int64(t1.Sub(t0)))
	isNew, err := store.Put(ctx, blob.Chunk, id, x.data)
	storeNanos.Add(int64(time.Since(t1)))
	if err != nil {
		return fmt.Errorf("store chunk at offset %d: %w", x.off, err)
	}
	out.entry = volume.Entry{ID: id, Length: x.length}
	out.isNew = isNew
	return nil
}

// collector takes stored extents back in volume order, writes the manifest
// and reports progress.
type collector struct {
	mw           *volume.ManifestWriter
	stats        *Stats
	total        int64
	progress     func(Progress)
	every        time.Duration
	last         time.Time
	done, newLen int64
}

func newCollector(mw *volume.ManifestWriter, stats *Stats, total int64, opts Options) *collector {
	every := opts.ProgressEvery
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	return &collector{mw: mw, stats: stats, total: total, progress: opts.Progress, every: every}
}

func (c *collector) report(force bool) {
	if c.progress == nil || (!force && time.Since(c.last) < c.every) {
		return
	}
	c.last = time.Now()
	c.progress(Progress{Done: c.done, Total: c.total, ReadBytes: atomic.LoadInt64(&c.stats.ReadBytes), NewBytes: c.newLen})
}

func (c *collector) add(ctx context.Context, x *stored) error {
	if x.off != c.done {
		return fmt.Errorf("ingest: extent at %d after %d: pipeline out of order", x.off, c.done)
	}
	if err := c.mw.Add(ctx, x.entry); err != nil {
		return err
	}
	c.done += x.length
	if x.isNew {
		c.stats.NewChunks++
		c.newLen += x.length
	}
	c.report(false)
	return nil
}

// finish checks that the extents covered the volume.
func (c *collector) finish() error {
	if c.done != c.total {
		return fmt.Errorf("ingest: covered %d of %d bytes", c.done, c.total)
	}
	c.stats.NewBytes = c.newLen
	c.report(true)
	return nil
}
