package volume

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/vmrep/vmrep/engine/blob"
)

// memRecords is an in-memory blob.RecordStore.
type memRecords struct {
	mu   sync.Mutex
	recs map[blob.RecordKind]map[string][]byte
}

func newMemRecords() *memRecords {
	return &memRecords{recs: make(map[blob.RecordKind]map[string][]byte)}
}

func (m *memRecords) PutRecord(ctx context.Context, kind blob.RecordKind, name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs[kind] == nil {
		m.recs[kind] = make(map[string][]byte)
	}
	m.recs[kind][name] = append([]byte(nil), data...)
	return nil
}

func (m *memRecords) GetRecord(ctx context.Context, kind blob.RecordKind, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.recs[kind][name]
	if !ok {
		return nil, fmt.Errorf("record %d/%s: %w", kind, name, blob.ErrNotFound)
	}
	return append([]byte(nil), data...), nil
}

func (m *memRecords) ListRecords(ctx context.Context, kind blob.RecordKind, prefix string, fn func(name string, data []byte) error) error {
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

func (m *memRecords) DeleteRecord(ctx context.Context, kind blob.RecordKind, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recs[kind][name]; !ok {
		return fmt.Errorf("delete record %d/%s: %w", kind, name, blob.ErrNotFound)
	}
	delete(m.recs[kind], name)
	return nil
}
