package workload

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/vmrep/vmrep/engine/blob"
)

// MemBlobs is a blob store in memory for synthetic manifests: it keeps the
// manifest pages only. Get checks nothing (the bytes never left memory).
type MemBlobs struct {
	mu    sync.RWMutex
	blobs map[blob.ID][]byte
	Bytes int64
}

// NewMemBlobs returns an empty in-memory blob store.
func NewMemBlobs() *MemBlobs { return &MemBlobs{blobs: map[blob.ID][]byte{}} }

// Put keeps a copy of data under id.
func (m *MemBlobs) Put(ctx context.Context, t blob.Type, id blob.ID, data []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blobs[id]; ok {
		return false, nil
	}
	m.blobs[id] = append([]byte(nil), data...)
	m.Bytes += int64(len(data))
	return true, nil
}

// Flush does nothing: memory is as durable as it gets.
func (m *MemBlobs) Flush(ctx context.Context) error { return nil }

// Get appends the blob to buf[:0].
func (m *MemBlobs) Get(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) {
	m.mu.RLock()
	b, ok := m.blobs[id]
	m.mu.RUnlock()
	if !ok {
		return buf, fmt.Errorf("blob %s: %w", id, blob.ErrNotFound)
	}
	return append(buf[:0], b...), nil
}

// Has reports whether id is stored.
func (m *MemBlobs) Has(ctx context.Context, id blob.ID) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.blobs[id]
	return ok, nil
}

// FileBlobs streams blobs to one append-only file and keeps only their
// places in memory, for synthetic manifests too large to hold (16 TiB of
// volume is about 10 GB of pages). Reads come back through the page cache.
type FileBlobs struct {
	mu    sync.RWMutex
	f     *os.File
	at    map[blob.ID][2]int64
	Bytes int64
}

// NewFileBlobs creates the file at path.
func NewFileBlobs(path string) (*FileBlobs, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create blob file: %w", err)
	}
	return &FileBlobs{f: f, at: map[blob.ID][2]int64{}}, nil
}

// Close closes the file; the caller removes it.
func (s *FileBlobs) Close() error { return s.f.Close() }

// Put appends data unless id is stored.
func (s *FileBlobs) Put(ctx context.Context, t blob.Type, id blob.ID, data []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.at[id]; ok {
		return false, nil
	}
	if _, err := s.f.WriteAt(data, s.Bytes); err != nil {
		return false, fmt.Errorf("append blob %s: %w", id, err)
	}
	s.at[id] = [2]int64{s.Bytes, int64(len(data))}
	s.Bytes += int64(len(data))
	return true, nil
}

// Flush does nothing; the file is a scratch file.
func (s *FileBlobs) Flush(ctx context.Context) error { return nil }

// Get reads the blob into buf.
func (s *FileBlobs) Get(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) {
	s.mu.RLock()
	loc, ok := s.at[id]
	s.mu.RUnlock()
	if !ok {
		return buf, fmt.Errorf("blob %s: %w", id, blob.ErrNotFound)
	}
	if int64(cap(buf)) < loc[1] {
		buf = make([]byte, loc[1])
	}
	buf = buf[:loc[1]]
	if _, err := s.f.ReadAt(buf, loc[0]); err != nil {
		return buf, fmt.Errorf("read blob %s: %w", id, err)
	}
	return buf, nil
}

// Has reports whether id is stored.
func (s *FileBlobs) Has(ctx context.Context, id blob.ID) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.at[id]
	return ok, nil
}
