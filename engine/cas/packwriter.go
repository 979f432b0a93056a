package cas

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

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

	// wmu is read-held by each record write from its reservation under
	// Store.mu to the end of its write, so that record writes run outside
	// Store.mu, in parallel, while waitWrites sees every reserved record on
	// disk.
	wmu sync.RWMutex
	// broken is set by a failed record write before it releases wmu, so
	// that seal, after waitWrites, never seals a torn record.
	broken atomic.Bool

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

// reserveLocked reserves room for one blob record of n bytes at the end of
// the pack and returns its offset and entry. The caller must then call
// writeRecord, after releasing Store.mu.
func (pw *packWriter) reserveLocked(n int, e PackEntry) (int64, PackEntry) {
	off := pw.size
	e.Offset = uint64(off) + blobHeaderSize
	pw.size += int64(n)
	pw.entries = append(pw.entries, e)
	pw.wmu.RLock()
	return off, e
}

// writeRecord writes a record reserved by reserveLocked (header already in
// rec[:44]).
func (pw *packWriter) writeRecord(rec []byte, off int64) error {
	defer pw.wmu.RUnlock()
	if _, err := pw.wf.WriteAt(rec, off); err != nil {
		pw.broken.Store(true)
		return fmt.Errorf("append to temp pack %s: %w", pw.wf.Name(), err)
	}
	return nil
}

// waitWrites returns once every record reserved so far is written.
func (pw *packWriter) waitWrites() {
	pw.wmu.Lock()
	//lint:ignore SA2001 a barrier: taking wmu waits out the writes that hold it
	pw.wmu.Unlock()
}

// discard drops an unsealed temp pack, once its record writes are done.
func (pw *packWriter) discard() {
	pw.waitWrites()
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
	pw.waitWrites() // the record may be reserved but not yet written
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
	pw.waitWrites()
	broken := pw.broken.Load()
	var err error
	if broken {
		// The Put whose write failed reports it; the pack is dropped.
		pw.discard()
	} else {
		err = s.sealPack(ctx, pw)
	}
	s.mu.Lock()
	delete(s.mu.inflight, pw)
	if broken {
		s.dropBrokenLocked(pw)
	} else if err == nil {
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
	if _, err := pw.wf.WriteAt(footer, pw.size); err != nil {
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
