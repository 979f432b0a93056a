package fusefs

import (
	"context"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

// TestChunkCacheUsedRecycled: chunks a sequential read used up lend their
// buffers to the next loads, so streaming through a large cache maps a
// single buffer; a chunk not used up, or taken again by a reader, stays.
func TestChunkCacheUsedRecycled(t *testing.T) {
	ctx := context.Background()
	const chunk = 200 << 10
	c := newChunkCache(64 << 20) // room for 256 buffers
	defer c.close()
	id := func(i int) blob.ID { return blob.Sum([]byte{'u', byte(i), byte(i >> 8)}) }

	kept := must(c.get(ctx, id(0), decodeInto(chunk, 'k')))
	c.release(kept) // read, not used up: stays in the cache
	again := must(c.get(ctx, id(1), decodeInto(chunk, 'a')))
	again.used.Store(true)
	c.release(again)
	again = must(c.get(ctx, id(1), decodeInto(chunk, 'x'))) // taken again: no longer used up
	checkFill(t, again, 'a')
	c.release(again)

	maps := c.maps.Load()
	for i := 2; i < 100; i++ {
		e := must(c.get(ctx, id(i), decodeInto(chunk, byte(i))))
		checkFill(t, e, byte(i))
		e.used.Store(true)
		c.release(e)
	}
	if got := c.maps.Load() - maps; got != 1 {
		t.Errorf("streaming 98 chunks made %d new mappings, want 1", got)
	}
	if !c.cached(id(0)) || !c.cached(id(1)) {
		t.Errorf("chunks not used up were evicted")
	}
	if !c.cached(id(99)) || c.cached(id(50)) {
		t.Errorf("want only the last used chunk kept: 99 %v, 50 %v", c.cached(id(99)), c.cached(id(50)))
	}

	// A used chunk a reader still holds keeps its buffer.
	held := must(c.get(ctx, id(99), decodeInto(chunk, 'z')))
	held.used.Store(true)
	e := must(c.get(ctx, id(100), decodeInto(chunk, 'n')))
	checkFill(t, held, 99)
	c.release(e)
	c.release(held)
	liveMappings(t, c)
}
