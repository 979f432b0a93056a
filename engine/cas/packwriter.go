package cas

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmrep/vmrep/internal/vfs"
)

// packWriter is one temp pack being filled under Store.mu, then sealed by
// its own goroutine.
type packWriter struct {
	wf      vfs.File // append handle; handed to the backend when sealed
	size    int64
	entries []PackEntry

	// rf serves Gets of blobs still pending in this pack. It stays valid
	// across the rename and is closed only once the index has them.
	rmu     sync.RWMutex
	rf      vfs.File
	rclosed bool

	fs     vfs.FS
	owner  *Writer // the writer filling it
	shared bool    // another writer deduplicated against a blob in it; guarded by Store.mu

	done chan struct{}
	err  error // valid after done is closed
}

type pendingBlob struct {
	pw *packWriter
	e  PackEntry
}

func (s *Store) newPackWriter() (*packWriter, error) {
	wf, err := s.fs.CreateTemp(filepath.Join(s.dir, "tmp"), "pack-*")
	if err != nil {
		return nil, fmt.Errorf("create temp pack: %w", err)
	}
	rf, err := s.fs.Open(wf.Name())
	if err == nil {
		_, err = wf.Write(encodePackHeader(s.storeID))
	}
	if err != nil {
		wf.Close()
		s.fs.Remove(wf.Name())
		if rf != nil {
			rf.Close()
		}
		return nil, fmt.Errorf("create temp pack %s: %w", wf.Name(), err)
	}
	return &packWriter{fs: s.fs, wf: wf, rf: rf, size: packHeaderSize, done: make(chan struct{})}, nil
}

// appendLocked writes one blob record (header already in rec[:44]).
func (pw *packWriter) appendLocked(rec []byte, e PackEntry) (PackEntry, error) {
	if _, err := pw.wf.Write(rec); err != nil {
		return e, fmt.Errorf("append to temp pack %s: %w", pw.wf.Name(), err)
	}
	e.Offset = uint64(pw.size) + blobHeaderSize
	pw.size += int64(len(rec))
	pw.entries = append(pw.entries, e)
	return e, nil
}

// discard drops an unsealed temp pack.
func (pw *packWriter) discard() {
	name := pw.wf.Name()
	pw.wf.Close()
	pw.closeReader()
	pw.fs.Remove(name)
}

func (pw *packWriter) closeReader() {
	pw.rmu.Lock()
	if !pw.rclosed {
		pw.rclosed = true
		pw.rf.Close()
	}
	pw.rmu.Unlock()
}

// readPending reads a pending blob's stored bytes into p. ok is false when
// the pack has meanwhile been indexed, so the caller must look again.
func (pw *packWriter) readPending(e PackEntry, p []byte) (ok bool, err error) {
	pw.rmu.RLock()
	defer pw.rmu.RUnlock()
	if pw.rclosed {
		return false, nil
	}
	_, err = pw.rf.ReadAt(p, int64(e.Offset))
	return true, err
}

// detachLocked detaches w's current pack; the caller must then call
// launchSeal without holding s.mu.
func (s *Store) detachLocked(w *Writer) *packWriter {
	pw := w.cur
	w.cur = nil
	if pw != nil {
		s.mu.inflight[pw] = struct{}{}
	}
	return pw
}

// launchSeal waits for a sealing slot and seals pw in the background.
func (s *Store) launchSeal(ctx context.Context, pw *packWriter) error {
	select {
	case s.sealSem <- struct{}{}:
	case <-ctx.Done():
		// Seal anyway so the blobs are not lost, but do not wait for it.
		go func() {
			s.sealSem <- struct{}{}
			s.seal(pw)
		}()
		return ctx.Err()
	}
	go s.seal(pw)
	return nil
}

// seal makes pw durable and indexed, in the order doc/design.md demands:
// footer, fsync, rename, directory fsync, then the index batch.
func (s *Store) seal(pw *packWriter) {
	defer func() { <-s.sealSem }()
	ctx := context.Background() // a Put's cancellation must not half-seal a pack
	err := s.sealPack(ctx, pw)
	s.mu.Lock()
	delete(s.mu.inflight, pw)
	if err == nil {
		for _, e := range pw.entries {
			if p, ok := s.mu.pending[e.ID]; ok && p.pw == pw {
				delete(s.mu.pending, e.ID)
			}
		}
		s.mu.gen++
	} else if s.mu.err == nil {
		s.mu.err = err
		s.log.Error("sealing pack failed", "err", err)
	}
	s.mu.Unlock()
	pw.closeReader()
	pw.err = err
	close(pw.done)
}

func (s *Store) sealPack(ctx context.Context, pw *packWriter) error {
	footer, hash := encodeFooter(pw.entries)
	if _, err := pw.wf.Write(footer); err != nil {
		pw.discard()
		return fmt.Errorf("seal temp pack %s: %w", pw.wf.Name(), err)
	}
	size := pw.size + int64(len(footer))
	name := PackName(hash)
	if err := s.be.Put(ctx, Handle{Kind: FilePack, Name: name}, pw.wf); err != nil {
		return fmt.Errorf("seal pack %s: %w", name, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := addPackBatch(b, hash, size, pw.entries); err != nil {
		return fmt.Errorf("index pack %s: %w", name, err)
	}
	if err := s.indexWrite(func() error { return b.Commit(pebble.Sync) }); err != nil {
		return fmt.Errorf("index pack %s: %w", name, err)
	}
	return nil
}

// Flush seals the current pack of every writer and waits until every blob
// Put before the call is durable and indexed. Sealing all writers' packs,
// not only the caller's, covers blobs the caller deduplicated against
// another writer's pending pack.
func (s *Store) Flush(ctx context.Context) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return fmt.Errorf("flush store %s: closed", s.dir)
	}
	var curs []*packWriter
	for w := range s.mu.writers {
		if w.cur != nil && len(w.cur.entries) > 0 {
			curs = append(curs, s.detachLocked(w))
		}
	}
	waits := make([]*packWriter, 0, len(s.mu.inflight))
	for pw := range s.mu.inflight {
		waits = append(waits, pw)
	}
	s.mu.Unlock()
	for _, cur := range curs {
		if err := s.launchSeal(ctx, cur); err != nil {
			return fmt.Errorf("flush store %s: %w", s.dir, err)
		}
	}
	for _, pw := range waits {
		select {
		case <-pw.done:
			if pw.err != nil {
				return fmt.Errorf("flush store %s: %w", s.dir, pw.err)
			}
		case <-ctx.Done():
			return fmt.Errorf("flush store %s: %w", s.dir, ctx.Err())
		}
	}
	s.mu.Lock()
	err := s.mu.err
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("flush store %s: %w", s.dir, err)
	}
	return nil
}
