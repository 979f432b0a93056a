package fusefs

import (
	"context"
	"runtime"
	"sync"

	"github.com/vmrep/vmrep/engine/blob"
)

// prefetchJob is a reserved cache entry and the recycled buffer to load
// it into.
type prefetchJob struct {
	e   *chunkEntry
	buf []byte
}

// prefetcher loads chunks into the cache on a bounded pool of workers. It
// is owned by a Mounted: start when mounted, close after the server has
// stopped; close waits for every worker.
type prefetcher struct {
	r       blob.Reader
	cache   *chunkCache
	workers int
	jobs    chan prefetchJob

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.RWMutex // guards running against close
	run    bool
}

func newPrefetcher(r blob.Reader, cache *chunkCache) *prefetcher {
	w := 2 * runtime.GOMAXPROCS(0)
	w = max(4, min(w, 16))
	return &prefetcher{r: r, cache: cache, workers: w, jobs: make(chan prefetchJob, 128)}
}

func (p *prefetcher) start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run || p.ctx != nil {
		return
	}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.run = true
	for range p.workers {
		p.wg.Add(1)
		go p.work()
	}
}

func (p *prefetcher) work() {
	defer p.wg.Done()
	for {
		select {
		case j := <-p.jobs:
			data, err := p.r.Get(p.ctx, j.e.id, j.buf)
			p.cache.fill(j.e, j.buf, data, err)
		case <-p.ctx.Done():
			return
		}
	}
}

// schedule starts loading the chunks of ids that are neither cached nor
// loading. It never blocks: when the queue is full the reservation is
// abandoned and a reader that needs the chunk loads it itself.
func (p *prefetcher) schedule(ids []blob.ID) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !p.run {
		return
	}
	for _, id := range ids {
		e, owner, buf := p.cache.acquire(id, false)
		if !owner {
			continue
		}
		select {
		case p.jobs <- prefetchJob{e: e, buf: buf}:
		default:
			p.cache.fill(e, buf, nil, errAbandoned)
		}
	}
}

// close stops the workers, waits for them, and completes what was still
// queued so that no reader waits forever.
func (p *prefetcher) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.run {
		return
	}
	p.run = false
	p.cancel()
	p.wg.Wait()
	for {
		select {
		case j := <-p.jobs:
			p.cache.fill(j.e, j.buf, nil, errAbandoned)
		default:
			return
		}
	}
}
