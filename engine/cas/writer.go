package cas

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/vmrep/vmrep/engine/blob"
)

// Writer stores blobs in packs of its own. A job that writes through its own
// Writer keeps its chunks together in its packs, which reads of one volume
// later find close together, and can take back what it has not yet sealed
// when it fails: Abort discards the Writer's open pack, so a failed ingest
// of a bad source leaves the store as it was unless it had filled a pack.
//
// A Writer is safe for concurrent use by the workers of one job.
type Writer struct {
	s   *Store
	cur *packWriter // guarded by s.mu
	// stored counts the stored (compressed) bytes of the blobs this
	// Writer added to the store, so a job can say what it cost.
	stored atomic.Int64
}

var _ blob.Writer = (*Writer)(nil)

// NewWriter returns a Writer on s. Call Flush to commit what it holds, then
// Close; or Abort.
func (s *Store) NewWriter() *Writer {
	w := &Writer{s: s}
	s.mu.Lock()
	s.mu.writers[w] = struct{}{}
	s.mu.Unlock()
	return w
}

// Put stores a blob like Store.Put, in the Writer's own pack.
func (w *Writer) Put(ctx context.Context, t blob.Type, id blob.ID, data []byte) (bool, error) {
	return w.s.put(ctx, w, t, id, data)
}

// StoredBytes is the stored size of the blobs the Writer has added so far:
// new blobs only, after compression, without pack overhead. Blobs another
// writer or the index already held count nothing.
func (w *Writer) StoredBytes() int64 { return w.stored.Load() }

// Flush makes everything the Writer stored durable and indexed.
func (w *Writer) Flush(ctx context.Context) error { return w.s.Flush(ctx) }

// Close forgets the Writer after a Flush. Whatever it still holds is sealed
// in the background, as the next Flush of any writer would.
func (w *Writer) Close() error {
	s := w.s
	s.mu.Lock()
	delete(s.mu.writers, w)
	var pw *packWriter
	if w.cur != nil && len(w.cur.entries) > 0 {
		pw = s.detachLocked(w)
	}
	s.mu.Unlock()
	if pw != nil {
		return s.launchSeal(context.Background(), pw)
	}
	return nil
}

// Abort throws away the Writer's open pack, unless another writer has
// deduplicated against a blob in it, in which case the pack is sealed as
// usual. Packs the Writer already sealed stay: they are durable and are
// reclaimed by garbage collection when nothing refers to them.
func (w *Writer) Abort(ctx context.Context) error {
	s := w.s
	s.mu.Lock()
	pw := w.cur
	if pw != nil && pw.shared {
		pw = s.detachLocked(w)
		delete(s.mu.writers, w)
		s.mu.Unlock()
		if err := s.launchSeal(ctx, pw); err != nil {
			return fmt.Errorf("abort writer: sealing a shared pack: %w", err)
		}
		return nil
	}
	w.cur = nil
	if pw != nil {
		for _, e := range pw.entries {
			if p, ok := s.mu.pending[e.ID]; ok && p.pw == pw {
				delete(s.mu.pending, e.ID)
			}
		}
	}
	delete(s.mu.writers, w)
	s.mu.Unlock()
	if pw != nil {
		pw.discard()
	}
	return nil
}
