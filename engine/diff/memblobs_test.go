package diff

import (
	"context"
	"sync"

	"github.com/vmrep/vmrep/engine/cas"
)

// memBlobs is an in-memory blob store that checks hashes on Put and Get.
type memBlobs struct {
	mu    sync.RWMutex
	blobs map[cas.ID][]byte
}

func newMemBlobs() *memBlobs { return &memBlobs{blobs: map[cas.ID][]byte{}} }

func (m *memBlobs) Put(ctx context.Context, t cas.BlobType, id cas.ID, data []byte) (bool, error) {
	if cas.Sum(data) != id {
		return false, &cas.BlobError{ID: id, Type: t, Err: cas.ErrCorrupt}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blobs[id]; ok {
		return false, nil
	}
	m.blobs[id] = append([]byte(nil), data...)
	return true, nil
}

func (m *memBlobs) Flush(ctx context.Context) error { return nil }

func (m *memBlobs) Get(ctx context.Context, id cas.ID, buf []byte) ([]byte, error) {
	m.mu.RLock()
	data, ok := m.blobs[id]
	m.mu.RUnlock()
	if !ok {
		return nil, &cas.BlobError{ID: id, Err: cas.ErrNotFound}
	}
	buf = append(buf[:0], data...)
	if cas.Sum(buf) != id {
		return nil, &cas.BlobError{ID: id, Err: cas.ErrCorrupt}
	}
	return buf, nil
}

func (m *memBlobs) Has(ctx context.Context, id cas.ID) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.blobs[id]
	return ok, nil
}
