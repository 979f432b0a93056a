package cas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/cockroachdb/pebble/v2"
)

// readPackFooter reads and checks a pack's header, trailer and footer: the
// pack must belong to this store and be named by its footer's hash.
func (s *Store) readPackFooter(ctx context.Context, name string, size int64) (PackFooter, error) {
	h := Handle{Kind: FilePack, Name: name}
	if size < packHeaderSize+4+trailerSize {
		return PackFooter{}, fmt.Errorf("pack %s: %d bytes is too short", name, size)
	}
	var head [packHeaderSize]byte
	if err := s.be.ReadAt(ctx, h, head[:], 0); err != nil {
		return PackFooter{}, err
	}
	sid, err := decodePackHeader(head[:])
	if err != nil {
		return PackFooter{}, fmt.Errorf("pack %s: %w", name, err)
	}
	if sid != s.storeID {
		return PackFooter{}, &foreignPackError{pack: name, store: sid, want: s.cfg.ID}
	}
	var tr [trailerSize]byte
	if err := s.be.ReadAt(ctx, h, tr[:], size-trailerSize); err != nil {
		return PackFooter{}, err
	}
	n, hash, err := decodeTrailer(tr[:], size)
	if err != nil {
		return PackFooter{}, fmt.Errorf("pack %s: %w", name, err)
	}
	if PackName(hash) != name {
		return PackFooter{}, fmt.Errorf("pack %s: footer hash %s does not match its name", name, PackName(hash))
	}
	fb := make([]byte, n)
	if err := s.be.ReadAt(ctx, h, fb, size-trailerSize-int64(n)); err != nil {
		return PackFooter{}, err
	}
	f, err := decodeFooter(fb, hash, size)
	if err != nil {
		return PackFooter{}, fmt.Errorf("pack %s: %w", name, err)
	}
	return f, nil
}

// recoverPacks indexes packs that are stored but not indexed: a crash after
// a pack's rename and before its index batch leaves exactly that.
func (s *Store) recoverPacks(ctx context.Context) error {
	if err := s.syncNames(ctx, FilePack); err != nil {
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	added, unlisted, err := s.addUnindexedPacks(ctx, b)
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	for pn := range unlisted {
		s.log.Warn("indexed pack is missing from the store; run verify", "pack", PackName(pn))
	}
	if added == 0 {
		return nil
	}
	if err := s.writable(); err != nil {
		s.log.Warn("packs missing from the index stay unindexed until vmrepd restarts with the index writable; their blobs cannot be read meanwhile",
			"store", s.dir, "packs", added, "why", err)
		return nil
	}
	s.log.Info("indexed packs missing from the index", "packs", added)
	if err := s.indexWrite(func() error { return b.Commit(pebble.Sync) }); err != nil {
		return fmt.Errorf("open store %s: indexing recovered packs: %w", s.dir, err)
	}
	return nil
}

// addUnindexedPacks lists the stored packs and adds to b the footer
// entries of each one the index lacks. A damaged pack is left out, not
// fatal: its blobs read as missing, verify names it, and a later open or
// refresh tries it again; a pack deleted since the listing (another
// daemon's gc) is skipped. It returns how many packs it added and the
// indexed packs the listing did not name.
func (s *Store) addUnindexedPacks(ctx context.Context, b *pebble.Batch) (added int, unlisted map[blob.ID]struct{}, err error) {
	indexed := make(map[blob.ID]struct{})
	err = scanPrefix(s.db, []byte{prefixPack}, func(k, _ []byte) error {
		indexed[blob.ID(k[1:])] = struct{}{}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("scanning index: %w", err)
	}
	err = s.be.List(ctx, FilePack, func(name string, size int64) error {
		pn, err := parsePackName(name)
		if err != nil {
			return err
		}
		if _, ok := indexed[pn]; ok {
			delete(indexed, pn)
			return nil
		}
		f, err := s.readPackFooter(ctx, name, size)
		if errors.Is(err, blob.ErrNotFound) {
			return nil // deleted since the listing
		}
		if err != nil {
			if !packDamaged(ctx, err) {
				return err
			}
			s.log.Error("pack is damaged and was left out of the index; run verify", "pack", name, "err", err)
			return nil
		}
		added++
		return addPackBatch(b, pn, size, f.Entries)
	})
	if err != nil {
		return 0, nil, err
	}
	return added, indexed, nil
}

// syncNames makes the names of kind durable before recovery trusts them,
// where the backend has names to sync (see localBackend.SyncNames).
func (s *Store) syncNames(ctx context.Context, kind FileKind) error {
	if ns, ok := s.be.(interface {
		SyncNames(context.Context, FileKind) error
	}); ok {
		return ns.SyncNames(ctx, kind)
	}
	return nil
}

// recoverRecords makes the index's records match the record files.
func (s *Store) recoverRecords(ctx context.Context) error {
	// The file is the truth; the index may lag it by one write when a
	// process died between renaming a record file and indexing it.
	indexed := make(map[string][]byte)
	err := scanPrefix(s.db, []byte{prefixRecord}, func(k, v []byte) error {
		if len(k) >= 2 {
			indexed[string(k[1:])] = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("open store %s: scanning index: %w", s.dir, err)
	}
	if err := s.syncNames(ctx, FileRecord); err != nil {
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	err = s.be.List(ctx, FileRecord, func(fileName string, size int64) error {
		kind, name, data, err := s.readRecordFile(ctx, fileName, size)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// One bad record must not keep the store from opening, and its
			// index copy is kept: it may be the only intact one.
			var copyData []byte
			var hasCopy bool
			if k, n, ok := parseRecordFileName(fileName); ok {
				key := recordKey(k, n)
				copyData, hasCopy = indexed[string(key[1:])]
				delete(indexed, string(key[1:]))
			}
			s.repairRecord(ctx, fileName, size, copyData, hasCopy, err)
			return nil
		}
		key := recordKey(kind, name)
		old, ok := indexed[string(key[1:])]
		delete(indexed, string(key[1:]))
		if ok && bytes.Equal(old, data) {
			return nil
		}
		return b.Set(key, data, nil)
	})
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	for k := range indexed {
		if err := b.Delete(append([]byte{prefixRecord}, k...), nil); err != nil {
			return err
		}
	}
	if b.Empty() {
		return nil
	}
	if err := s.writable(); err != nil {
		s.log.Warn("records changed since the index was last written are served from the index as it is until vmrepd restarts with the index writable",
			"store", s.dir, "changes", b.Count(), "why", err)
		return nil
	}
	if err := s.indexWrite(func() error { return b.Commit(pebble.Sync) }); err != nil {
		return fmt.Errorf("open store %s: indexing records: %w", s.dir, err)
	}
	return nil
}

// RebuildIndex recreates the whole index from the pack footers and record
// files alone. Blobs Put before the call are flushed first.
func (s *Store) RebuildIndex(ctx context.Context) error {
	if err := s.writable(); err != nil {
		return fmt.Errorf("rebuild index: %w", err)
	}
	if err := s.Flush(ctx); err != nil {
		return fmt.Errorf("rebuild index: %w", err)
	}
	// Records stay: recoverRecords makes them match the record files, and
	// the index's copy of a record whose file is damaged may be the only
	// intact one left.
	for _, r := range [][2][]byte{{{0}, {prefixRecord}}, {{prefixRecord + 1}, {0xff}}} {
		err := s.indexWrite(func() error { return s.db.DeleteRange(r[0], r[1], pebble.Sync) })
		if err != nil {
			return fmt.Errorf("rebuild index of %s: wiping: %w", s.dir, err)
		}
	}
	if err := s.recoverPacks(ctx); err != nil {
		return fmt.Errorf("rebuild index: %w", err)
	}
	if err := s.recoverRecords(ctx); err != nil {
		return fmt.Errorf("rebuild index: %w", err)
	}
	return nil
}

// foreignPackError refuses a pack written by another store: packs copied
// in by mistake are refused rather than indexed or skipped.
type foreignPackError struct {
	pack  string
	store [16]byte
	want  string
}

func (e *foreignPackError) Error() string {
	return fmt.Sprintf("pack %s belongs to store %x, not %s", e.pack, e.store, e.want)
}

// packDamaged tells a pack whose header, trailer or footer does not decode
// from failures that must stop recovery: cancellation, I/O errors of the
// system, and a pack of another store.
func packDamaged(ctx context.Context, err error) bool {
	var errno syscall.Errno
	var foreign *foreignPackError
	return ctx.Err() == nil && !errors.As(err, &errno) && !errors.As(err, &foreign)
}
