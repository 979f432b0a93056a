package volume

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/vmrep/vmrep/engine/cas"
)

// memBlobs is an in-memory stand-in for the store's blob API (owned by
// engine/cas). Like the real one it checks every hash, on Put and on Get.
type memBlobs struct {
	mu    sync.Mutex
	blobs map[cas.ID][]byte
	puts  int
}

func newMemBlobs() *memBlobs { return &memBlobs{blobs: make(map[cas.ID][]byte)} }

func (m *memBlobs) Put(ctx context.Context, t cas.BlobType, id cas.ID, data []byte) (bool, error) {
	if cas.Sum(data) != id {
		return false, &cas.BlobError{ID: id, Type: t, Err: cas.ErrCorrupt}
	}
	if len(data) > cas.MaxBlobSize {
		return false, fmt.Errorf("put %s %s: %d bytes over the limit", t, id.Short(), len(data))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	if _, ok := m.blobs[id]; ok {
		return false, nil
	}
	m.blobs[id] = append([]byte(nil), data...)
	return true, nil
}

func (m *memBlobs) Flush(ctx context.Context) error { return nil }

func (m *memBlobs) Get(ctx context.Context, id cas.ID, buf []byte) ([]byte, error) {
	m.mu.Lock()
	data, ok := m.blobs[id]
	m.mu.Unlock()
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
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.blobs[id]
	return ok, nil
}

func (m *memBlobs) remove(id cas.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blobs, id)
}

// memRecords is an in-memory RecordStore.
type memRecords struct {
	mu   sync.Mutex
	recs map[cas.RecordKind]map[string][]byte
}

func newMemRecords() *memRecords {
	return &memRecords{recs: make(map[cas.RecordKind]map[string][]byte)}
}

func (m *memRecords) PutRecord(ctx context.Context, kind cas.RecordKind, name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs[kind] == nil {
		m.recs[kind] = make(map[string][]byte)
	}
	m.recs[kind][name] = append([]byte(nil), data...)
	return nil
}

func (m *memRecords) GetRecord(ctx context.Context, kind cas.RecordKind, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.recs[kind][name]
	if !ok {
		return nil, fmt.Errorf("record %d/%s: %w", kind, name, cas.ErrNotFound)
	}
	return append([]byte(nil), data...), nil
}

func (m *memRecords) ListRecords(ctx context.Context, kind cas.RecordKind, prefix string, fn func(name string, data []byte) error) error {
	m.mu.Lock()
	var names []string
	for name := range m.recs[kind] {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	datas := make([][]byte, len(names))
	for i, n := range names {
		datas[i] = append([]byte(nil), m.recs[kind][n]...)
	}
	m.mu.Unlock()
	for i, n := range names {
		if err := fn(n, datas[i]); err != nil {
			return err
		}
	}
	return nil
}

func (m *memRecords) DeleteRecord(ctx context.Context, kind cas.RecordKind, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recs[kind][name]; !ok {
		return fmt.Errorf("delete record %d/%s: %w", kind, name, cas.ErrNotFound)
	}
	delete(m.recs[kind], name)
	return nil
}
