package fusefs

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

// decodeInto loads like cas Get: n bytes of fill appended to buf[:0], on the
// heap when buf is too small.
func decodeInto(n int, fill byte) loadFunc {
	return func(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) {
		out := slices.Grow(buf[:0], n)[:n]
		for i := range out {
			out[i] = fill
		}
		return out, nil
	}
}

// liveMappings checks that every mapping made and not released has exactly
// one owner: a cached entry, the free list, or one of held (evicted entries
// readers still hold). It returns the count.
func liveMappings(t *testing.T, c *chunkCache, held ...*chunkEntry) int64 {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	owners := int64(len(c.mu.free))
	for el := c.mu.lru.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*chunkEntry); e.buf != nil {
			owners++
			if !sameArray(e.buf, e.data) {
				t.Errorf("cached entry's data is not in its mapping")
			}
		}
	}
	for _, e := range held {
		if e.buf != nil && e.elem == nil {
			owners++
		}
	}
	live := c.maps.Load() - c.unmaps.Load()
	if live != owners {
		t.Errorf("%d mappings live (%d made, %d released), %d owned", live, c.maps.Load(), c.unmaps.Load(), owners)
	}
	return live
}

func checkFill(t *testing.T, e *chunkEntry, fill byte) {
	t.Helper()
	for i, x := range e.data {
		if x != fill {
			t.Fatalf("held chunk overwritten at %d: %q, want %q", i, x, fill)
		}
	}
}

// TestChunkCacheOffHeap: chunks load into mappings; a mapping a reader holds
// is neither reused nor released; mappings are released when they drop out
// for good (free list full, outgrown, load failed or reallocated, chunk too
// large to cache); close releases them all, the held one at its release.
func TestChunkCacheOffHeap(t *testing.T) {
	ctx := context.Background()
	const chunk = 200 << 10
	c := newChunkCache(1 << 20) // four mappings of firstBufCap
	id := func(s string, i int) blob.ID { return blob.Sum([]byte{s[0], byte(i), byte(i >> 8)}) }

	held := must(c.get(ctx, id("h", 0), decodeInto(chunk, 'h')))
	if held.buf == nil || !sameArray(held.buf, held.data) || cap(held.data) != firstBufCap {
		t.Fatalf("first chunk not loaded into a %d byte mapping (cap %d)", firstBufCap, cap(held.data))
	}
	// Every buffer handed out while h is held must not be h's.
	var handed [][]byte
	spy := func(fill byte) loadFunc {
		return func(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) {
			handed = append(handed, buf)
			return decodeInto(chunk, fill)(ctx, id, buf)
		}
	}
	// Hold many at once so that their release overflows the free list.
	var many []*chunkEntry
	for i := range maxFreeBufs + 8 {
		many = append(many, must(c.get(ctx, id("m", i), spy('m'))))
	}
	for _, e := range many {
		checkFill(t, e, 'm')
	}
	liveMappings(t, c, append(many, held)...)
	before := c.unmaps.Load()
	c.releaseAll(many)
	if got := c.unmaps.Load() - before; got != 4 {
		// 40 released: 4 stay cached, 32 fill the free list, 4 are dropped.
		t.Errorf("%d mappings released after the free list filled, want 4", got)
	}
	liveMappings(t, c, held)
	// Sequential reading now recycles the free list without new mappings.
	maps := c.maps.Load()
	for i := range 100 {
		c.release(must(c.get(ctx, id("s", i), spy('s'))))
	}
	if c.maps.Load() != maps {
		t.Errorf("sequential loads made %d new mappings, want recycling", c.maps.Load()-maps)
	}
	for _, b := range handed {
		if cap(b) > 0 && &b[:1][0] == &held.buf[:1][0] {
			t.Fatalf("a held chunk's mapping was handed to another load")
		}
	}
	checkFill(t, held, 'h')
	liveMappings(t, c, held)

	// A failed load gives its mapping back.
	bad := func(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) { return buf[:10], blob.ErrCorrupt }
	if _, err := c.get(ctx, id("f", 0), bad); !errors.Is(err, blob.ErrCorrupt) {
		t.Fatalf("get: %v, want ErrCorrupt", err)
	}
	liveMappings(t, c, held)

	// A chunk larger than the cache stays on the heap and leaks nothing.
	huge := must(c.get(ctx, id("x", 0), decodeInto(2<<20, 'x')))
	if huge.buf != nil {
		t.Errorf("uncached chunk kept a mapping")
	}
	c.release(huge)
	liveMappings(t, c, held)

	// A larger chunk reallocates on the heap: its mapping goes back at once
	// and the free mappings, now too small, are released.
	big := must(c.get(ctx, id("b", 0), decodeInto(300<<10, 'b')))
	if big.buf != nil {
		t.Errorf("chunk reallocated by its loader still owns a mapping")
	}
	c.mu.Lock()
	free, bufCap := len(c.mu.free), c.mu.bufCap
	c.mu.Unlock()
	if free != 0 || bufCap < 300<<10 {
		t.Errorf("after a %d byte chunk: %d free buffers, bufCap %d", 300<<10, free, bufCap)
	}
	c.release(big)
	next := must(c.get(ctx, id("n", 0), decodeInto(300<<10, 'n')))
	if next.buf == nil || cap(next.buf) != bufCap {
		t.Errorf("next load not into a mapping of the new size %d", bufCap)
	}
	c.release(next)
	checkFill(t, held, 'h')
	liveMappings(t, c, held)

	// Close releases all but the held mapping, that one at its release;
	// later reads work from the heap.
	c.close()
	if got := liveMappings(t, c, held); got != 1 {
		t.Errorf("%d mappings live after close with one held, want 1", got)
	}
	checkFill(t, held, 'h')
	c.release(held)
	if got := liveMappings(t, c); got != 0 {
		t.Errorf("%d mappings live after close and release", got)
	}
	after := must(c.get(ctx, id("a", 0), decodeInto(chunk, 'a')))
	checkFill(t, after, 'a')
	if after.buf != nil || len(after.data) != chunk {
		t.Errorf("read after close: %d bytes, mapping %v", len(after.data), after.buf != nil)
	}
	c.release(after)
	if c.maps.Load() != c.unmaps.Load() {
		t.Errorf("%d mappings made, %d released", c.maps.Load(), c.unmaps.Load())
	}
}

// TestMapBufRefused: a mapping the kernel refuses is reported, so the
// cache falls back to the heap.
func TestMapBufRefused(t *testing.T) {
	if b, ok := mapBuf(1 << 62); ok {
		unmapBuf(b)
		t.Fatalf("a 4 EiB mapping succeeded")
	}
	b, ok := mapBuf(4096)
	if !ok || len(b) != 0 || cap(b) != 4096 {
		t.Fatalf("mapBuf(4096): len %d cap %d ok %v", len(b), cap(b), ok)
	}
	b = append(b, "x"...)
	unmapBuf(b)
}
