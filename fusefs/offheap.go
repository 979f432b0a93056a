package fusefs

import (
	"golang.org/x/sys/unix"
)

// Chunk buffers live outside the Go heap, in anonymous private mappings.
// The garbage collector lets the heap grow to twice what is live before it
// collects (GOGC=100); were the chunk cache on the heap, its bytes would be
// counted twice and a 64 MiB cache would cost some 128 MiB of resident
// memory plus the rest. Off the heap the collector's headroom covers only
// the small things. The price is manual lifetime: a mapping is released
// only once no cache entry, free list slot or read reply refers to it,
// because touching it afterwards kills the process.

// mapBuf returns an empty slice with capacity n backed by a fresh anonymous
// mapping (zero pages the kernel fills on first touch), or false when the
// kernel refuses one; the caller then uses the heap.
func mapBuf(n int) ([]byte, bool) {
	if n <= 0 {
		return nil, false
	}
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, false
	}
	return b[:0], true
}

// unmapBuf releases a mapping made by mapBuf. b may be any length of the
// slice mapBuf returned.
func unmapBuf(b []byte) {
	if err := unix.Munmap(b[:cap(b)]); err != nil {
		// Only a slice that is not a whole mapping fails, which is a bug in
		// the cache's bookkeeping, not something to serve reads through.
		panic("fusefs: unmap chunk buffer: " + err.Error())
	}
}

// sameArray reports whether data lies at the start of buf's backing array,
// that is whether a loader appending to buf[:0] decoded in place instead of
// reallocating.
func sameArray(buf, data []byte) bool {
	return cap(buf) > 0 && cap(data) > 0 && cap(data) <= cap(buf) &&
		&buf[:1][0] == &data[:1][0]
}

// growLocked raises bufCap to n and unmaps the free buffers now too small.
func (c *chunkCache) growLocked(n int) {
	if n <= c.mu.bufCap {
		return
	}
	c.mu.bufCap = n
	for i, b := range c.mu.free {
		unmapBuf(b)
		c.unmaps.Add(1)
		c.mu.free[i] = nil
	}
	c.mu.free = c.mu.free[:0]
}
