package cas

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/cockroachdb/pebble/v2"
	"github.com/klauspost/compress/s2"
)

// Compression must save at least 1/minSavingDiv of a blob to be kept.
const (
	minSavingDiv = 16
	sampleSize   = 4 << 10
)

// recPool holds blob record buffers (header + stored data) so Put does not
// allocate per blob in steady state.
var recPool = sync.Pool{New: func() any { b := make([]byte, 0, blobHeaderSize+80<<10); return &b }}

// Put stores data as blob id of type t, reporting whether it was new. It
// compresses in the caller's goroutine and does not keep data after it
// returns. The blob is readable at once and durable after Flush.
func (s *Store) Put(ctx context.Context, t blob.Type, id blob.ID, data []byte) (bool, error) {
	return s.put(ctx, s.def, t, id, data)
}

func (s *Store) put(ctx context.Context, w *Writer, t blob.Type, id blob.ID, data []byte) (bool, error) {
	if t != blob.Chunk && t != blob.Page {
		return false, &blob.Error{ID: id, Type: t, Err: fmt.Errorf("put: unknown blob type")}
	}
	if len(data) > blob.MaxSize {
		return false, &blob.Error{ID: id, Type: t, Err: fmt.Errorf("put: %d bytes exceeds the %d-byte limit", len(data), blob.MaxSize)}
	}
	skip, gen, err := s.putCheck(ctx, w, t, id)
	if skip || err != nil {
		return false, err
	}
	bp := recPool.Get().(*[]byte)
	defer recPool.Put(bp)
	rec, flags := s.encodeRecord((*bp)[:0], data)
	*bp = rec[:0]
	e := PackEntry{ID: id, Type: t, Flags: flags, Stored: uint32(len(rec) - blobHeaderSize), Raw: uint32(len(data))}
	putBlobHeader(rec, t, flags, e.Raw, e.Stored, id)
	return s.appendBlob(ctx, w, rec, e, gen, true)
}

// putCheck checks a Put of blob id before it encodes anything: skip is
// true when the store already holds id, pending or committed; gen is the
// index generation the check saw.
func (s *Store) putCheck(ctx context.Context, w *Writer, t blob.Type, id blob.ID) (skip bool, gen uint64, err error) {
	if t != blob.Chunk && t != blob.Page {
		return false, 0, &blob.Error{ID: id, Type: t, Err: fmt.Errorf("put: unknown blob type")}
	}
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	s.mu.Lock()
	pending := s.pendingLocked(w, id)
	gen, err = s.mu.gen, s.mu.err
	s.mu.Unlock()
	if err != nil {
		return false, 0, fmt.Errorf("put %s %s: store failed earlier: %w", t, id, err)
	}
	if err := s.writable(); err != nil {
		return false, 0, fmt.Errorf("put %s %s: %w", t, id, err)
	}
	if pending {
		return true, gen, nil
	}
	ok, err := s.indexHas(id)
	return ok, gen, err
}

// encodeRecord appends a blob header placeholder and the stored bytes.
func (s *Store) encodeRecord(rec, data []byte) ([]byte, uint8) {
	rec = append(rec, make([]byte, blobHeaderSize)...)
	if s.cfg.Compression == "s2" && len(data) >= 64 {
		// s2 gives up on incompressible input by itself, fast enough that
		// no trial is needed.
		out := slices.Grow(rec, s2.MaxEncodedLen(len(data)))
		enc := s2.Encode(out[blobHeaderSize:cap(out)], data)
		if len(enc) <= len(data)-len(data)/minSavingDiv {
			return out[:blobHeaderSize+len(enc)], flagS2
		}
		rec = out[:blobHeaderSize]
	}
	if s.cfg.Compression == "zstd" && s.worthCompressing(data, rec[blobHeaderSize:]) {
		out := s.enc.EncodeAll(data, rec)
		if stored := len(out) - blobHeaderSize; stored <= len(data)-len(data)/minSavingDiv {
			return out, flagZstd
		}
		rec = out[:blobHeaderSize]
	}
	return append(rec, data...), 0
}

// worthCompressing tries a sample first so incompressible data (already
// compressed or encrypted disks) costs one small encode, not a full one.
func (s *Store) worthCompressing(data, scratch []byte) bool {
	if len(data) < 64 {
		return false
	}
	if len(data) <= 2*sampleSize {
		return true
	}
	mid := len(data)/2 - sampleSize/2
	sample := data[mid : mid+sampleSize]
	out := s.enc.EncodeAll(sample, scratch[:0])
	return len(out) <= sampleSize-sampleSize/minSavingDiv
}

// appendBlob adds a blob record to the current temp pack. checkIndex is
// false only when Sweep copies a committed blob on purpose.
// pendingLocked reports whether id waits in a pack not yet sealed. A blob
// that another writer holds is marked shared, so that writer's Abort seals
// it instead of throwing it away.
func (s *Store) pendingLocked(w *Writer, id blob.ID) bool {
	p, ok := s.mu.pending[id]
	if ok && p.pw.owner != w {
		p.pw.shared = true
	}
	return ok
}

func (s *Store) appendBlob(ctx context.Context, w *Writer, rec []byte, e PackEntry, gen uint64, checkIndex bool) (bool, error) {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return false, fmt.Errorf("put %s %s: store is closed", e.Type, e.ID)
	}
	if s.pendingLocked(w, e.ID) {
		s.mu.Unlock()
		return false, nil
	}
	if checkIndex && s.mu.gen != gen {
		// A pack was indexed since our check; it may hold this blob. Rare.
		if ok, err := s.indexHas(e.ID); err != nil || ok {
			s.mu.Unlock()
			return false, err
		}
	}
	if w.cur == nil {
		pw, err := s.newPackWriter()
		if err != nil {
			s.mu.Unlock()
			return false, fmt.Errorf("put %s %s: %w", e.Type, e.ID, err)
		}
		pw.owner = w
		w.cur = pw
	}
	pw := w.cur
	off, e := pw.reserveLocked(len(rec), e)
	s.mu.pending[e.ID] = pendingBlob{pw: pw, e: e}
	var full *packWriter
	if pw.size >= s.cfg.PackSize {
		full = s.detachLocked(w)
	}
	s.mu.Unlock()
	// The write runs outside s.mu: other workers reserve, check and write
	// their own records meanwhile.
	if err := pw.writeRecord(rec, off); err != nil {
		s.failPack(w, pw)
		if full != nil {
			s.launchSeal(ctx, full) // seal discards a failed pack
		}
		return false, fmt.Errorf("put %s %s: %w", e.Type, e.ID, err)
	}
	w.stored.Add(int64(e.Stored))
	if full != nil {
		if err := s.launchSeal(ctx, full); err != nil {
			return true, fmt.Errorf("put %s %s: %w", e.Type, e.ID, err)
		}
	}
	return true, nil
}

// failPack gives up on pw after a record write to it failed: the temp pack
// may now hold a torn record. A pack already detached for sealing is
// discarded by seal, any other here.
func (s *Store) failPack(w *Writer, pw *packWriter) {
	s.mu.Lock()
	if w.cur == pw {
		w.cur = nil
	}
	_, sealing := s.mu.inflight[pw]
	if !sealing {
		s.dropBrokenLocked(pw)
	}
	s.mu.Unlock()
	if !sealing {
		pw.discard()
	}
}

// dropBrokenLocked forgets the pending blobs of a pack a failed write
// broke. When another writer deduplicated against a blob in it and counts on
// it, dropping it quietly could let that writer commit a snapshot naming a
// missing blob: the store fails, as after a failed seal, so every Flush
// reports it.
func (s *Store) dropBrokenLocked(pw *packWriter) {
	for _, pe := range pw.entries {
		if p, ok := s.mu.pending[pe.ID]; ok && p.pw == pw {
			delete(s.mu.pending, pe.ID)
		}
	}
	if pw.shared && s.mu.err == nil {
		s.mu.err = fmt.Errorf("temp pack %s, which other writers share, lost to a write error", pw.wf.Name())
	}
}

func (s *Store) indexHas(id blob.ID) (bool, error) {
	_, closer, err := s.db.Get(blobKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("index lookup %s: %w", id, err)
	}
	closer.Close()
	return true, nil
}
