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

// Get appends blob id's raw bytes to buf[:0], after checking they hash to
// id. Blobs Put but not yet flushed are served too.
func (s *Store) Get(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for {
		s.mu.Lock()
		p, ok := s.mu.pending[id]
		s.mu.Unlock()
		if !ok {
			break
		}
		loc := entryLocation("", p.e)
		stored, done := storedBuf(loc, buf)
		ok, err := p.pw.readPending(p.e, stored)
		if !ok {
			done()
			continue // indexed meanwhile
		}
		if err != nil {
			done()
			return nil, &blob.Error{ID: id, Type: p.e.Type, Offset: loc.Offset, Err: fmt.Errorf("read pending blob: %w", err)}
		}
		out, err := s.decodeBlob(id, loc, stored, buf)
		done()
		return out, err
	}
	loc, err := s.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.readBlob(ctx, id, loc, buf)
}

// readBlob reads, decompresses and checks one committed blob. When loc's
// pack is gone but the index now places the blob elsewhere, a sweep moved
// it between the lookup and the read (reads run beside gc), and the read
// follows it.
func (s *Store) readBlob(ctx context.Context, id blob.ID, loc Location, buf []byte) ([]byte, error) {
	return followMoved(ctx, s, id, loc, func(loc Location) ([]byte, error) { return s.readAt(ctx, id, loc, buf) })
}

// followMoved runs read at loc and, when loc's pack is gone but the index
// now places blob id in another pack, once more at the new place: a sweep
// moved the blob between the lookup and the read. Other errors, and a
// blob still indexed in the pack that failed, stand.
func followMoved[T any](ctx context.Context, s *Store, id blob.ID, loc Location, read func(Location) (T, error)) (T, error) {
	out, err := read(loc)
	if err == nil || !errors.Is(err, blob.ErrNotFound) {
		return out, err
	}
	now, lerr := s.Lookup(ctx, id)
	if lerr != nil || now.Pack == loc.Pack {
		var zero T
		return zero, err
	}
	return read(now)
}

// readAt reads, decompresses and checks the blob at loc.
func (s *Store) readAt(ctx context.Context, id blob.ID, loc Location, buf []byte) ([]byte, error) {
	stored, done := storedBuf(loc, buf)
	defer done()
	if err := s.be.ReadAt(ctx, Handle{Kind: FilePack, Name: loc.Pack}, stored, loc.Offset); err != nil {
		return nil, &blob.Error{ID: id, Type: loc.Type, Pack: loc.Pack, Offset: loc.Offset, Err: err}
	}
	return s.decodeBlob(id, loc, stored, buf)
}

// scratch holds buffers for the compressed form of blobs being read, so a
// steady stream of reads (FUSE, restore, export) makes no garbage per blob.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 128<<10); return &b }}

// storedBuf returns room for a blob's stored bytes, and a func to call once
// they are decoded: buf itself when they are the raw bytes, else a pooled
// scratch slice for the compressed form.
func storedBuf(loc Location, buf []byte) ([]byte, func()) {
	if !loc.Compressed {
		return slices.Grow(buf[:0], int(loc.Stored))[:loc.Stored], func() {}
	}
	bp := scratch.Get().(*[]byte)
	stored := slices.Grow((*bp)[:0], int(loc.Stored))[:loc.Stored]
	return stored, func() {
		*bp = stored[:0]
		scratch.Put(bp)
	}
}

// decodeBlob turns stored bytes into raw bytes in buf and checks the hash.
func (s *Store) decodeBlob(id blob.ID, loc Location, stored, buf []byte) ([]byte, error) {
	corrupt := func(why string) error {
		return &blob.Error{ID: id, Type: loc.Type, Pack: loc.Pack, Offset: loc.Offset, Err: fmt.Errorf("%w (%s)", blob.ErrCorrupt, why)}
	}
	out := stored
	switch {
	case loc.S2:
		// The length is checked before s2 writes anything.
		if n, err := s2.DecodedLen(stored); err != nil || n != int(loc.Raw) {
			return nil, corrupt(fmt.Sprintf("bad s2 data: length %d (%v), want %d", n, err, loc.Raw))
		}
		var err error
		out, err = s2.Decode(slices.Grow(buf[:0], int(loc.Raw))[:loc.Raw], stored)
		if err != nil {
			return nil, corrupt("bad s2 data: " + err.Error())
		}
	case loc.Compressed:
		var err error
		out, err = s.dec.DecodeAll(stored, slices.Grow(buf[:0], int(loc.Raw)))
		if err != nil {
			return nil, corrupt("bad zstd data: " + err.Error())
		}
	}
	if len(out) != int(loc.Raw) {
		return nil, corrupt(fmt.Sprintf("length %d, want %d", len(out), loc.Raw))
	}
	if blob.Sum(out) != id {
		return nil, corrupt("hash mismatch")
	}
	return out, nil
}

// Has reports whether blob id is stored, committed or pending.
func (s *Store) Has(ctx context.Context, id blob.ID) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	_, ok := s.mu.pending[id]
	s.mu.Unlock()
	if ok {
		return true, nil
	}
	return s.indexHas(id)
}

// Lookup returns where committed blob id lies. Pending blobs are not found.
func (s *Store) Lookup(ctx context.Context, id blob.ID) (Location, error) {
	if err := ctx.Err(); err != nil {
		return Location{}, err
	}
	v, closer, err := s.db.Get(blobKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return Location{}, &blob.Error{ID: id, Err: blob.ErrNotFound}
	}
	if err != nil {
		return Location{}, &blob.Error{ID: id, Err: fmt.Errorf("index lookup: %w", err)}
	}
	loc, err := decodeBlobValue(v)
	closer.Close()
	if err != nil {
		return Location{}, &blob.Error{ID: id, Err: err}
	}
	return loc, nil
}

func entryLocation(pack string, e PackEntry) Location {
	return Location{Pack: pack, Offset: int64(e.Offset), Stored: e.Stored, Raw: e.Raw,
		Type: e.Type, Compressed: e.Flags&(flagZstd|flagS2) != 0, S2: e.Flags&flagS2 != 0}
}
