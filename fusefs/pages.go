package fusefs

import (
	"container/list"
	"context"
	"sync"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// pageKey names a decoded page. The same page blob can sit at different
// offsets in different manifests, and a decoded Page holds absolute offsets,
// so the offset is part of the key.
type pageKey struct {
	id  blob.ID
	off int64
}

type pageItem struct {
	key  pageKey
	page *volume.Page
}

// pageCache is a small LRU of decoded manifest pages, shared by every file.
// Pages are read-only once decoded, so readers share them without locks.
type pageCache struct {
	max int
	mu  struct {
		sync.Mutex
		lru list.List // values *pageItem
		m   map[pageKey]*list.Element
	}
}

func newPageCache(max int) *pageCache {
	c := &pageCache{max: max}
	c.mu.m = make(map[pageKey]*list.Element)
	return c
}

// get returns page i of m. Two readers missing the same page may both load
// it; that is rare and cheaper than coordinating.
func (c *pageCache) get(ctx context.Context, r blob.Reader, m *volume.Manifest, i int) (*volume.Page, error) {
	k := pageKey{id: m.Pages[i].ID, off: m.Pages[i].Offset}
	c.mu.Lock()
	if el := c.mu.m[k]; el != nil {
		c.mu.lru.MoveToFront(el)
		p := el.Value.(*pageItem).page
		c.mu.Unlock()
		return p, nil
	}
	c.mu.Unlock()

	p, err := m.LoadPage(ctx, r, i, nil)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.mu.m[k]; el != nil {
		return el.Value.(*pageItem).page, nil
	}
	c.mu.m[k] = c.mu.lru.PushFront(&pageItem{key: k, page: p})
	for c.mu.lru.Len() > c.max {
		old := c.mu.lru.Remove(c.mu.lru.Back()).(*pageItem)
		delete(c.mu.m, old.key)
	}
	return p, nil
}
