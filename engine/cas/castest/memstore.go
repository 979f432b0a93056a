package castest

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sync"

	"github.com/vmrep/vmrep/engine/blob"
)

// MemStore is a blob.Store in memory, for tests of the layers above the
// store (ingest, volume, restore, the CLI). Like cas.Store it refuses a
// blob whose ID is not the hash of its data, and checks the hash again on
// Get so that a damaged blob (Corrupt) reads as blob.ErrCorrupt. A blob is
// visible as soon as Put returns; Flush does nothing.
type MemStore struct {
	mu     sync.Mutex
	blobs  map[blob.ID][]byte
	calls  int // Put calls that passed the checks
	stored int // Put calls that stored a new blob
}

var _ blob.Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{blobs: make(map[blob.ID][]byte)} }

// Put keeps a copy of data under id and reports whether it was new.
func (m *MemStore) Put(_ context.Context, t blob.Type, id blob.ID, data []byte) (bool, error) {
	if len(data) > blob.MaxSize {
		return false, fmt.Errorf("put %s %s: %d bytes, over the limit of %d", t, id.Short(), len(data), blob.MaxSize)
	}
	if blob.Sum(data) != id {
		return false, &blob.Error{ID: id, Type: t, Err: blob.ErrCorrupt}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if _, ok := m.blobs[id]; ok {
		return false, nil
	}
	m.blobs[id] = bytes.Clone(data)
	m.stored++
	return true, nil
}

// Flush does nothing: every blob is visible once Put returns.
func (m *MemStore) Flush(context.Context) error { return nil }

// Get appends the blob to buf[:0] after checking its hash.
func (m *MemStore) Get(_ context.Context, id blob.ID, buf []byte) ([]byte, error) {
	m.mu.Lock()
	data, ok := m.blobs[id]
	m.mu.Unlock()
	if !ok {
		return nil, &blob.Error{ID: id, Err: blob.ErrNotFound}
	}
	buf = append(buf[:0], data...)
	if blob.Sum(buf) != id {
		return nil, &blob.Error{ID: id, Err: blob.ErrCorrupt}
	}
	return buf, nil
}

// Has reports whether id is stored.
func (m *MemStore) Has(_ context.Context, id blob.ID) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.blobs[id]
	return ok, nil
}

// Puts is the number of Put calls accepted so far, duplicates included.
func (m *MemStore) Puts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// Stored is the number of Put calls that stored a new blob.
func (m *MemStore) Stored() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stored
}

// Len is the number of blobs held.
func (m *MemStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.blobs)
}

// Remove forgets a blob, as a lost pack would.
func (m *MemStore) Remove(id blob.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blobs, id)
}

// Corrupt flips a bit of a stored blob, as a bad disk would; it reports
// whether the blob was there.
func (m *MemStore) Corrupt(id blob.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[id]
	if !ok || len(b) == 0 {
		return false
	}
	b[len(b)/2] ^= 0x01
	return true
}

// All yields every blob, by ID order, from a snapshot taken when the loop
// starts; the caller must not change the bytes.
func (m *MemStore) All() iter.Seq2[blob.ID, []byte] {
	return func(yield func(blob.ID, []byte) bool) {
		m.mu.Lock()
		snap := maps.Clone(m.blobs)
		m.mu.Unlock()
		ids := slices.SortedFunc(maps.Keys(snap), func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) })
		for _, id := range ids {
			if !yield(id, snap[id]) {
				return
			}
		}
	}
}
