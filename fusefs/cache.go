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

// chunkEntry is one chunk in the cache: loading until ready is closed, then
// data or err.
type chunkEntry struct {
	id    cas.ID
	ready chan struct{}
	data  []byte
	err   error
	elem  *list.Element // in the LRU once loaded; nil while loading
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
// a reader and the read-ahead never fetch the same chunk twice. Chunk slices
// are never reused: a reader may still be copying from one that was evicted.
type chunkCache struct {
	max int64
	mu  struct {
		sync.Mutex
		size int64
		lru  list.List // front: most recent; values *chunkEntry
		m    map[cas.ID]*chunkEntry
	}
}

func newChunkCache(max int64) *chunkCache {
	c := &chunkCache{max: max}
	c.mu.m = make(map[cas.ID]*chunkEntry)
	return c
}

// acquire returns the entry for id. owner is true when the entry is new and
// the caller must complete it with fill.
func (c *chunkCache) acquire(id cas.ID) (e *chunkEntry, owner bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.mu.m[id]; e != nil {
		if e.elem != nil {
			c.mu.lru.MoveToFront(e.elem)
		}
		return e, false
	}
	e = &chunkEntry{id: id, ready: make(chan struct{})}
	c.mu.m[id] = e
	return e, true
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
	switch {
	case err != nil || int64(len(data)) > c.max:
		delete(c.mu.m, e.id)
	default:
		e.elem = c.mu.lru.PushFront(e)
		c.mu.size += int64(len(data))
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
		c.mu.size -= int64(len(old.data))
		delete(c.mu.m, old.id)
	}
}

// get returns chunk id, loading it with load (in the caller's goroutine)
// when no one else has it or is loading it.
func (c *chunkCache) get(ctx context.Context, id cas.ID, load func(context.Context, cas.ID) ([]byte, error)) ([]byte, error) {
	for {
		e, owner := c.acquire(id)
		if owner {
			data, err := load(ctx, id)
			c.fill(e, data, err)
		}
		data, err := e.wait(ctx)
		if err == nil {
			return data, nil
		}
		// Another reader's cancellation or an abandoned reservation is not
		// this reader's failure: try again.
		retry := errors.Is(err, errAbandoned) ||
			!owner && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
		if !retry {
			return nil, err
		}
	}
}
