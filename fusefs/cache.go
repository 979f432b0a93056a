package fusefs

import (
	"container/list"
	"context"
	"errors"
	"sync"

	"github.com/vmrep/vmrep/engine/cas"
)

// errAbandoned completes a reservation nobody loaded (the prefetch queue
// was full); waiters retry.
var errAbandoned = errors.New("chunk load abandoned")

// maxFreeBufs bounds the free list of recycled chunk buffers. Sequential
// reading evicts a chunk for every chunk it loads, so a short list is
// enough to make nearly every load reuse memory; 32 buffers of at most a
// few hundred KiB stay far inside the 64 MiB of overhead a mount may use.
const maxFreeBufs = 32

// loadFunc loads chunk id, decoding into buf when its capacity allows.
type loadFunc func(ctx context.Context, id cas.ID, buf []byte) ([]byte, error)

// chunkEntry is one chunk in the cache: loading until ready is closed, then
// data or err. refs and evicted are guarded by the cache's mutex.
type chunkEntry struct {
	id      cas.ID
	ready   chan struct{}
	data    []byte
	err     error
	elem    *list.Element // in the LRU once loaded; nil while loading
	refs    int           // readers copying from data
	evicted bool          // out of the LRU; data is recycled at refs == 0
}

func (e *chunkEntry) wait(ctx context.Context) ([]byte, error) {
	select {
	case <-e.ready:
		return e.data, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// chunkCache is a byte-bounded LRU of decompressed, verified chunks shared
// by every file of a mount. A chunk being loaded is in the map already, so
// a reader and the read-ahead never fetch the same chunk twice.
//
// Evicted buffers are recycled into new loads, which spares the allocator
// from zeroing a fresh buffer per chunk. A reader holds a reference while it
// copies from a chunk, so a buffer is recycled only once nobody reads it.
// Sizes are counted by capacity: that is the memory held.
type chunkCache struct {
	max int64
	mu  struct {
		sync.Mutex
		size int64
		lru  list.List // front: most recent; values *chunkEntry
		m    map[cas.ID]*chunkEntry
		free [][]byte
		// bufCap is the largest chunk seen. Every buffer the cache hands
		// out has this capacity, so a recycled buffer never has to grow
		// (which would drop it and allocate anew: garbage, and a heap
		// that swells past the bound).
		bufCap int
	}
}

func newChunkCache(max int64) *chunkCache {
	c := &chunkCache{max: max}
	c.mu.m = make(map[cas.ID]*chunkEntry)
	return c
}

// acquire returns the entry for id, with a reference held when ref is set.
// owner is true when the entry is new and the caller must complete it with
// fill; buf is then a recycled buffer to load into, or nil.
func (c *chunkCache) acquire(id cas.ID, ref bool) (e *chunkEntry, owner bool, buf []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.mu.m[id]; e != nil {
		if e.elem != nil {
			c.mu.lru.MoveToFront(e.elem)
		}
		if ref {
			e.refs++
		}
		return e, false, nil
	}
	e = &chunkEntry{id: id, ready: make(chan struct{})}
	if ref {
		e.refs++
	}
	c.mu.m[id] = e
	if n := len(c.mu.free); n > 0 {
		buf = c.mu.free[n-1]
		c.mu.free[n-1] = nil
		c.mu.free = c.mu.free[:n-1]
	} else if c.mu.bufCap > 0 {
		buf = make([]byte, 0, c.mu.bufCap)
	}
	return e, true, buf
}

// release drops a reference taken by acquire.
func (c *chunkCache) release(e *chunkEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.refs == 0 && e.evicted {
		c.recycleLocked(e)
	}
}

// releaseAll drops one reference on each entry, under one lock.
func (c *chunkCache) releaseAll(es []*chunkEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range es {
		e.refs--
		if e.refs == 0 && e.evicted {
			c.recycleLocked(e)
		}
	}
}

func (c *chunkCache) recycleLocked(e *chunkEntry) {
	if e.data != nil && cap(e.data) >= c.mu.bufCap && len(c.mu.free) < maxFreeBufs {
		c.mu.free = append(c.mu.free, e.data[:0])
	}
	e.data = nil
}

// cached reports whether id is loaded or being loaded.
func (c *chunkCache) cached(id cas.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.m[id] != nil
}

// fill completes an entry acquired as owner. A failed load leaves the cache
// so that the next read tries again (and reports the error again).
func (c *chunkCache) fill(e *chunkEntry, data []byte, err error) {
	c.mu.Lock()
	e.data, e.err = data, err
	if err == nil && int64(cap(data)) <= c.max {
		c.mu.bufCap = max(c.mu.bufCap, cap(data))
	}
	switch {
	case err != nil || int64(cap(data)) > c.max:
		delete(c.mu.m, e.id)
		// Nobody may recycle what readers still copy from; the garbage
		// collector takes it.
		e.evicted = false
	default:
		e.elem = c.mu.lru.PushFront(e)
		c.mu.size += int64(cap(data))
		c.evictLocked()
	}
	c.mu.Unlock()
	close(e.ready)
}

func (c *chunkCache) evictLocked() {
	for c.mu.size > c.max {
		el := c.mu.lru.Back()
		if el == nil {
			return
		}
		old := c.mu.lru.Remove(el).(*chunkEntry)
		old.elem = nil
		c.mu.size -= int64(cap(old.data))
		delete(c.mu.m, old.id)
		old.evicted = true
		if old.refs == 0 {
			c.recycleLocked(old)
		}
	}
}

// get returns chunk id with a reference held, loading it with load (in the
// caller's goroutine) when no one else has it or is loading it. The caller
// must release the entry once done with its data.
func (c *chunkCache) get(ctx context.Context, id cas.ID, load loadFunc) (*chunkEntry, error) {
	for {
		e, owner, buf := c.acquire(id, true)
		if owner {
			data, err := load(ctx, id, buf)
			c.fill(e, data, err)
		}
		_, err := e.wait(ctx)
		if err == nil {
			return e, nil
		}
		c.release(e)
		// Another reader's cancellation or an abandoned reservation is not
		// this reader's failure: try again.
		retry := errors.Is(err, errAbandoned) ||
			!owner && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
		if !retry {
			return nil, err
		}
	}
}
