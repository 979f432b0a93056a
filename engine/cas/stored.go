package cas

import (
	"context"
	"fmt"
	"slices"

	"github.com/vmrep/vmrep/engine/blob"
)

// Codec says how a blob's stored bytes encode its raw bytes. The values
// are those of the pack format's blob flags, and travel unchanged on the
// replication stream.
type Codec uint8

// The codecs a store writes.
const (
	CodecNone Codec = 0
	CodecZstd Codec = flagZstd
	CodecS2   Codec = flagS2
)

// Stored is a blob in its stored form: Data decodes with Codec to Raw
// bytes that hash to the blob's ID.
type Stored struct {
	Type  blob.Type
	Codec Codec
	Raw   uint32
	Data  []byte
}

func (loc Location) codec() Codec { return Codec(loc.flags()) }

func codecLocation(t blob.Type, c Codec, raw uint32, stored int) Location {
	return Location{Type: t, Raw: raw, Stored: uint32(stored), Compressed: c != CodecNone, S2: c == CodecS2}
}

// GetStored appends blob id's stored bytes, as they lie in their pack, to
// buf[:0], after checking that they decode to bytes that hash to id. A
// sender passes them on without compressing again; PutStored takes them.
func (s *Store) GetStored(ctx context.Context, id blob.ID, buf []byte) (Stored, error) {
	if err := ctx.Err(); err != nil {
		return Stored{}, err
	}
	for {
		s.mu.Lock()
		p, ok := s.mu.pending[id]
		s.mu.Unlock()
		if !ok {
			break
		}
		loc := entryLocation("", p.e)
		stored := slices.Grow(buf[:0], int(loc.Stored))[:loc.Stored]
		ok, err := p.pw.readPending(p.e, stored)
		if !ok {
			continue // indexed meanwhile
		}
		if err != nil {
			return Stored{}, &blob.Error{ID: id, Type: p.e.Type, Offset: loc.Offset, Err: fmt.Errorf("read pending blob: %w", err)}
		}
		return s.checkStored(id, loc, stored)
	}
	loc, err := s.Lookup(ctx, id)
	if err != nil {
		return Stored{}, err
	}
	return followMoved(ctx, s, id, loc, func(loc Location) (Stored, error) { return s.readStoredAt(ctx, id, loc, buf) })
}

func (s *Store) readStoredAt(ctx context.Context, id blob.ID, loc Location, buf []byte) (Stored, error) {
	stored := slices.Grow(buf[:0], int(loc.Stored))[:loc.Stored]
	if err := s.be.ReadAt(ctx, Handle{Kind: FilePack, Name: loc.Pack}, stored, loc.Offset); err != nil {
		return Stored{}, &blob.Error{ID: id, Type: loc.Type, Pack: loc.Pack, Offset: loc.Offset, Err: err}
	}
	return s.checkStored(id, loc, stored)
}

// checkStored decodes stored into scratch and checks it against id.
func (s *Store) checkStored(id blob.ID, loc Location, stored []byte) (Stored, error) {
	if err := s.verifyStored(id, loc, stored); err != nil {
		return Stored{}, err
	}
	return Stored{Type: loc.Type, Codec: loc.codec(), Raw: loc.Raw, Data: stored}, nil
}

func (s *Store) verifyStored(id blob.ID, loc Location, stored []byte) error {
	if !loc.Compressed {
		_, err := s.decodeBlob(id, loc, stored, nil)
		return err
	}
	bp := scratch.Get().(*[]byte)
	out, err := s.decodeBlob(id, loc, stored, (*bp)[:0])
	if out != nil {
		*bp = out[:0]
	}
	scratch.Put(bp)
	return err
}

// PutStored stores blob id from its stored form st, as GetStored returns
// it, possibly from another store. It first decodes st and checks that the
// result hashes to id; a mismatch or bad encoding is an error matching
// blob.ErrCorrupt and stores nothing. When st's codec is the one this
// store compresses with, the stored bytes are kept as they are; otherwise
// the raw bytes are stored as Put would.
func (w *Writer) PutStored(ctx context.Context, id blob.ID, st Stored) (bool, error) {
	return w.s.putStored(ctx, w, id, st)
}

func (s *Store) putStored(ctx context.Context, w *Writer, id blob.ID, st Stored) (bool, error) {
	if st.Type != blob.Chunk && st.Type != blob.Page {
		return false, &blob.Error{ID: id, Type: st.Type, Err: fmt.Errorf("put: unknown blob type")}
	}
	corrupt := func(why string) error {
		return &blob.Error{ID: id, Type: st.Type, Err: fmt.Errorf("%w (%s)", blob.ErrCorrupt, why)}
	}
	switch {
	case st.Codec != CodecNone && st.Codec != CodecZstd && st.Codec != CodecS2:
		return false, corrupt(fmt.Sprintf("unknown codec %d", st.Codec))
	case st.Raw > blob.MaxSize:
		return false, corrupt(fmt.Sprintf("raw length %d over the %d-byte limit", st.Raw, blob.MaxSize))
	case st.Codec == CodecNone && len(st.Data) != int(st.Raw):
		return false, corrupt(fmt.Sprintf("uncompressed but %d bytes, raw %d", len(st.Data), st.Raw))
	case len(st.Data) > int(st.Raw):
		return false, corrupt(fmt.Sprintf("compressed to %d bytes, more than its raw %d", len(st.Data), st.Raw))
	}
	loc := codecLocation(st.Type, st.Codec, st.Raw, len(st.Data))
	keep := st.Codec == CodecNone || (st.Codec == CodecZstd && s.cfg.Compression == "zstd") ||
		(st.Codec == CodecS2 && s.cfg.Compression == "s2")
	if keep {
		if err := s.verifyStored(id, loc, st.Data); err != nil {
			return false, err
		}
		if st.Codec == CodecNone {
			return s.put(ctx, w, st.Type, id, st.Data)
		}
		return s.putRecord(ctx, w, st.Type, id, uint8(st.Codec), st.Raw, st.Data)
	}
	bp := scratch.Get().(*[]byte)
	defer scratch.Put(bp)
	raw, err := s.decodeBlob(id, loc, st.Data, (*bp)[:0])
	if raw != nil {
		*bp = raw[:0]
	}
	if err != nil {
		return false, err
	}
	return s.put(ctx, w, st.Type, id, raw)
}

// putRecord stores already-encoded bytes with their flags, after the same
// checks as put.
func (s *Store) putRecord(ctx context.Context, w *Writer, t blob.Type, id blob.ID, flags uint8, raw uint32, stored []byte) (bool, error) {
	skip, gen, err := s.putCheck(ctx, w, t, id)
	if skip || err != nil {
		return false, err
	}
	bp := recPool.Get().(*[]byte)
	defer recPool.Put(bp)
	rec := append(slices.Grow((*bp)[:0], blobHeaderSize+len(stored))[:blobHeaderSize], stored...)
	*bp = rec[:0]
	e := PackEntry{ID: id, Type: t, Flags: flags, Stored: uint32(len(stored)), Raw: raw}
	putBlobHeader(rec, t, flags, e.Raw, e.Stored, id)
	return s.appendBlob(ctx, w, rec, e, gen, true)
}

// DecodeStored decodes st, a stored form of blob id (as GetStored returns
// it, possibly carried elsewhere in between), into raw bytes in buf and
// checks that they hash to id; a mismatch matches blob.ErrCorrupt.
func (s *Store) DecodeStored(id blob.ID, st Stored, buf []byte) ([]byte, error) {
	switch {
	case st.Codec != CodecNone && st.Codec != CodecZstd && st.Codec != CodecS2:
		return nil, &blob.Error{ID: id, Type: st.Type, Err: fmt.Errorf("%w (unknown codec %d)", blob.ErrCorrupt, st.Codec)}
	case st.Raw > blob.MaxSize || len(st.Data) > blob.MaxSize:
		return nil, &blob.Error{ID: id, Type: st.Type, Err: fmt.Errorf("%w (raw length %d over the limit)", blob.ErrCorrupt, st.Raw)}
	}
	return s.decodeBlob(id, codecLocation(st.Type, st.Codec, st.Raw, len(st.Data)), st.Data, buf)
}
