package fusefs

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/vmrep/vmrep/engine/blob"
)

// errAbandoned completes a reservation nobody loaded (the prefetch queue
// was full); waiters retry.
var errAbandoned = errors.New("chunk load abandoned")

// maxFreeBufs bounds the free list of recycled chunk buffers. Sequential
// reading evicts a chunk for every chunk it loads, so a short list is
// enough to make nearly every load reuse memory; 32 buffers of at most a
// few hundred KiB stay far inside the 64 MiB of overhead a mount may use.
const maxFreeBufs = 32

// firstBufCap is the capacity of the first chunk buffers: the chunker's
// default maximum chunk size, so that loads go off the heap from the start.
const firstBufCap = 256 << 10

// loadFunc loads chunk id, decoding into buf when its capacity allows.
type loadFunc func(ctx context.Context, id blob.ID, buf []byte) ([]byte, error)

// chunkEntry is one chunk in the cache: loading until ready is closed, then
// data or err. refs and evicted are guarded by the cache's mutex.
type chunkEntry struct {
	id      blob.ID
	ready   chan struct{}
	data    []byte
	err     error
	buf     []byte        // the mapping data lives in; nil when data is on the heap
	elem    *list.Element // in the LRU once loaded; nil while loading
	refs    int           // readers copying from data
	evicted bool          // out of the LRU; data is recycled at refs == 0
	// used is set when a sequential read has copied the chunk up to its
	// end, and cleared when a reader takes the chunk again. The kernel
	// keeps what it was sent in its page cache (FOPEN_KEEP_CACHE), so such
	// a chunk is unlikely to be asked for again: at its last release it
	// goes to the back of the LRU, and a load that finds no free buffer
	// takes its buffer (see acquire).
	used atomic.Bool
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
//
// Buffers are anonymous mappings (see mapBuf), so each has one owner at a
// time: the loader it was handed to, the entry whose data lives in it, or
// the free list. It is unmapped only when it leaves its owner for good with
// no reference on it: free list full, outgrown by bufCap, or cache closed.
type chunkCache struct {
	max int64
	// maps and unmaps count mappings made and released, for tests and for
	// checking that close released everything.
	maps, unmaps atomic.Int64
	mu           struct {
		sync.Mutex
		size int64
		lru  list.List // front: most recent; values *chunkEntry
		m    map[blob.ID]*chunkEntry
		free [][]byte // mapped, all of capacity bufCap
		// bufCap is the largest chunk seen. Every buffer the cache hands
		// out has this capacity, so a recycled buffer never has to grow
		// (which would drop it and allocate anew: garbage, and a heap
		// that swells past the bound).
		bufCap int
		// closed stops the cache from keeping or mapping buffers.
		closed bool
	}
}

func newChunkCache(max int64) *chunkCache {
	c := &chunkCache{max: max}
	c.mu.m = make(map[blob.ID]*chunkEntry)
	// A buffer larger than the cache could never be kept.
	c.mu.bufCap = int(min(firstBufCap, max))
	return c
}

// acquire returns the entry for id, with a reference held when ref is set.
// owner is true when the entry is new and the caller must complete it with
// fill, handing back buf: a mapped buffer to load into, or nil (the loader
// then allocates on the heap).
func (c *chunkCache) acquire(id blob.ID, ref bool) (e *chunkEntry, owner bool, buf []byte) {
	c.mu.Lock()
	if e := c.mu.m[id]; e != nil {
		if e.elem != nil {
			c.mu.lru.MoveToFront(e.elem)
		}
		if ref {
			e.refs++
			e.used.Store(false)
		}
		c.mu.Unlock()
		return e, false, nil
	}
	e = &chunkEntry{id: id, ready: make(chan struct{})}
	if ref {
		e.refs++
	}
	c.mu.m[id] = e
	n := 0
	if k := len(c.mu.free); k > 0 {
		buf = c.mu.free[k-1]
		c.mu.free[k-1] = nil
		c.mu.free = c.mu.free[:k-1]
	} else if b, ok := c.takeUsedLocked(); ok {
		buf = b
	} else if !c.mu.closed {
		n = c.mu.bufCap
	}
	c.mu.Unlock()
	// Mapping is a system call: outside the lock. Should the cache close
	// meanwhile, fill hands the buffer back and it is unmapped there.
	if n > 0 {
		if b, ok := mapBuf(n); ok {
			c.maps.Add(1)
			buf = b
		}
	}
	return e, true, buf
}

// takeUsedLocked evicts the entry at the back of the LRU when a sequential
// read has used it up and nobody holds it, and returns its buffer for a new
// load. A first sequential read then cycles through a few buffers instead
// of mapping (and faulting in, and at last unmapping) a fresh one per chunk
// until the cache is full: on a loaded virtual machine those system calls
// and page faults cost more than the rest of the read path.
func (c *chunkCache) takeUsedLocked() ([]byte, bool) {
	el := c.mu.lru.Back()
	if el == nil || c.mu.closed {
		return nil, false
	}
	old := el.Value.(*chunkEntry)
	if !old.used.Load() || old.refs != 0 || old.buf == nil || cap(old.buf) < c.mu.bufCap {
		return nil, false
	}
	c.mu.lru.Remove(el)
	old.elem = nil
	c.mu.size -= int64(cap(old.data))
	delete(c.mu.m, old.id)
	old.evicted = true
	buf := old.buf[:0]
	old.buf, old.data = nil, nil
	return buf, true
}

// release drops a reference taken by acquire.
func (c *chunkCache) release(e *chunkEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseLocked(e)
}

// releaseAll drops one reference on each entry, under one lock.
func (c *chunkCache) releaseAll(es []*chunkEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range es {
		c.releaseLocked(e)
	}
}

func (c *chunkCache) releaseLocked(e *chunkEntry) {
	e.refs--
	if e.refs != 0 {
		return
	}
	switch {
	case e.evicted:
		c.recycleLocked(e)
	case e.elem != nil && e.used.Load():
		c.mu.lru.MoveToBack(e.elem)
	}
}

// recycleLocked takes back the buffer of an entry that is out of the cache
// and unreferenced. Heap data is left to the garbage collector.
func (c *chunkCache) recycleLocked(e *chunkEntry) {
	if e.buf != nil {
		c.putBufLocked(e.buf)
	}
	e.buf, e.data = nil, nil
}

// putBufLocked gives back a mapped buffer nothing refers to: onto the free
// list, or unmapped when the list is full, the buffer is smaller than the
// chunks now seen, or the cache is closed.
func (c *chunkCache) putBufLocked(b []byte) {
	if !c.mu.closed && cap(b) >= c.mu.bufCap && len(c.mu.free) < maxFreeBufs {
		c.mu.free = append(c.mu.free, b[:0])
		return
	}
	unmapBuf(b)
	c.unmaps.Add(1)
}

// cached reports whether id is loaded or being loaded.
func (c *chunkCache) cached(id blob.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.m[id] != nil
}

// fill completes an entry acquired as owner with the buffer acquire gave
// and what the load returned. A failed load leaves the cache so that the
// next read tries again (and reports the error again).
func (c *chunkCache) fill(e *chunkEntry, buf, data []byte, err error) {
	c.mu.Lock()
	keep := err == nil && !c.mu.closed && int64(cap(data)) <= c.max
	if keep {
		c.growLocked(cap(data))
	}
	if buf != nil && (err != nil || !sameArray(buf, data)) {
		// The load failed or reallocated on the heap: nothing refers to the
		// mapping, so it goes back at once.
		c.putBufLocked(buf)
		buf = nil
	}
	if buf != nil && !keep {
		// Readers of an uncached chunk hold no reference the cache could
		// wait for, so its bytes move to the heap and the mapping goes back.
		data = bytes.Clone(data)
		c.putBufLocked(buf)
		buf = nil
	}
	e.data, e.err, e.buf = data, err, buf
	switch {
	case !keep:
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

// close releases every mapping not referenced, drops every cached chunk
// and stops mapping new ones; a buffer a reader still holds is unmapped at
// its last release. Reads after close still work, from the heap, uncached.
func (c *chunkCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.closed = true
	for _, b := range c.mu.free {
		unmapBuf(b)
		c.unmaps.Add(1)
	}
	clear(c.mu.free)
	c.mu.free = nil
	for el := c.mu.lru.Front(); el != nil; {
		next := el.Next()
		old := c.mu.lru.Remove(el).(*chunkEntry)
		old.elem = nil
		delete(c.mu.m, old.id)
		old.evicted = true
		if old.refs == 0 {
			c.recycleLocked(old)
		}
		el = next
	}
	c.mu.size = 0
}

// get returns chunk id with a reference held, loading it with load (in the
// caller's goroutine) when no one else has it or is loading it. The caller
// must release the entry once done with its data.
func (c *chunkCache) get(ctx context.Context, id blob.ID, load loadFunc) (*chunkEntry, error) {
	for {
		e, owner, buf := c.acquire(id, true)
		if owner {
			data, err := load(ctx, id, buf)
			c.fill(e, buf, data, err)
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
