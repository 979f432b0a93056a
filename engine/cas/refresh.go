package cas

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/cockroachdb/pebble/v2"
)

// RefreshStats says what Refresh changed in the index.
type RefreshStats struct {
	PacksAdded     int   // packs other stores wrote
	PacksDropped   int   // packs gone from the storage (another store's gc)
	BlobsDropped   int64 // index entries of blobs in those packs
	RecordsChanged int   // records written or deleted by other stores
}

// Refresh brings the index up to date with shared storage that other
// stores write too: it indexes the footers of packs it has not seen, drops
// the entries of packs that are gone (another store's gc deleted them, and
// a Put must never deduplicate against their blobs), and makes the index's
// records match the record objects. It reads only footers of new packs,
// which is what makes it cheaper than RebuildIndex.
//
// The caller keeps this store's own writes from running meanwhile: the
// daemon refreshes when it takes the bucket lock, before its jobs run.
func (s *Store) Refresh(ctx context.Context) (RefreshStats, error) {
	var st RefreshStats
	if err := s.writable(); err != nil {
		return st, fmt.Errorf("refresh index: %w", err)
	}
	if err := s.refreshPacks(ctx, &st); err != nil {
		return st, fmt.Errorf("refresh index of %s: %w", s.dir, err)
	}
	if err := s.refreshRecords(ctx, &st); err != nil {
		return st, fmt.Errorf("refresh index of %s: %w", s.dir, err)
	}
	if st != (RefreshStats{}) {
		s.log.Info("refreshed the index from shared storage", "store", s.dir, "packs_added", st.PacksAdded,
			"packs_dropped", st.PacksDropped, "records_changed", st.RecordsChanged)
	}
	return st, nil
}

func (s *Store) refreshPacks(ctx context.Context, st *RefreshStats) error {
	b := s.db.NewBatch()
	defer b.Close()
	added, indexed, err := s.addUnindexedPacks(ctx, b)
	if err != nil {
		return err
	}
	st.PacksAdded += added
	// New packs first: a blob that a gc copied out of a pack now gone
	// points at its new pack before the old pack's entries are dropped.
	if !b.Empty() {
		if err := s.indexWrite(func() error { return b.Commit(pebble.Sync) }); err != nil {
			return err
		}
	}
	if len(indexed) == 0 {
		return nil
	}
	drop := s.db.NewBatch()
	defer drop.Close()
	err = scanPrefix(s.db, []byte{prefixBlob}, func(k, v []byte) error {
		if len(v) < 32 {
			return nil
		}
		if _, gone := indexed[blob.ID(v[:32])]; gone {
			st.BlobsDropped++
			return drop.Delete(bytes.Clone(k), nil)
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	for pn := range indexed {
		if err := drop.Delete(packKey(pn), nil); err != nil {
			return err
		}
		st.PacksDropped++
	}
	return s.indexWrite(func() error { return drop.Commit(pebble.Sync) })
}

// refreshRecords is recoverRecords for records that others change while
// this store runs: a record deleted between the listing and its read is
// left for the next refresh, and one that does not read whole is left as
// the index has it (verify and the next open judge it).
func (s *Store) refreshRecords(ctx context.Context, st *RefreshStats) error {
	indexed := make(map[string][]byte)
	err := scanPrefix(s.db, []byte{prefixRecord}, func(k, v []byte) error {
		if len(k) >= 2 {
			indexed[string(k[1:])] = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	err = s.be.List(ctx, FileRecord, func(fileName string, size int64) error {
		k, n, ok := parseRecordFileName(fileName)
		if !ok {
			return nil
		}
		key := recordKey(k, n)
		old, had := indexed[string(key[1:])]
		delete(indexed, string(key[1:]))
		_, _, data, err := s.readRecordFile(ctx, fileName, size)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !errors.Is(err, blob.ErrNotFound) {
				s.log.Warn("record object does not read whole; the index keeps its copy", "record", fileName, "err", err)
			}
			return nil
		}
		if had && bytes.Equal(old, data) {
			return nil
		}
		st.RecordsChanged++
		return b.Set(key, data, nil)
	})
	if err != nil {
		return err
	}
	for k := range indexed {
		st.RecordsChanged++
		if err := b.Delete(append([]byte{prefixRecord}, k...), nil); err != nil {
			return err
		}
	}
	if b.Empty() {
		return nil
	}
	return s.indexWrite(func() error { return b.Commit(pebble.Sync) })
}
