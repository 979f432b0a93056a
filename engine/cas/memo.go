package cas

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// prefixMemo keys the memo: facts a caller derived from blobs and keeps
// beside the index so it need not derive them again (the sealed IDs of a
// source's chunks, daemon/replication_seal.go). A memo is a cache: it is
// written without a sync, lost with a rebuilt index, and a caller must
// check what it takes from it.
const prefixMemo = 'm'

// maxMemoKey bounds a memo key, so a caller's mistake cannot bloat the
// index.
const maxMemoKey = 256

func memoKey(key []byte) ([]byte, error) {
	if len(key) == 0 || len(key) > maxMemoKey {
		return nil, fmt.Errorf("memo key of %d bytes (1 to %d)", len(key), maxMemoKey)
	}
	return append([]byte{prefixMemo}, key...), nil
}

// MemoGet appends the memo's value under key to buf[:0]; ok is false when
// there is none.
func (s *Store) MemoGet(key, buf []byte) (val []byte, ok bool, err error) {
	k, err := memoKey(key)
	if err != nil {
		return nil, false, err
	}
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return buf[:0], false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("memo: %w", err)
	}
	defer closer.Close()
	return append(buf[:0], v...), true, nil
}

// MemoPut writes values under keys (kv holds key, value pairs) in one
// batch; a delete is a nil value.
func (s *Store) MemoPut(kv [][2][]byte) error {
	if len(kv) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, e := range kv {
		k, err := memoKey(e[0])
		if err != nil {
			return err
		}
		if e[1] == nil {
			err = b.Delete(k, nil)
		} else {
			err = b.Set(k, e[1], nil)
		}
		if err != nil {
			return fmt.Errorf("memo: %w", err)
		}
	}
	return s.indexWrite(func() error { return b.Commit(pebble.NoSync) })
}

// MemoDeletePrefix drops every memo entry whose key starts with prefix.
func (s *Store) MemoDeletePrefix(prefix []byte) error {
	lo, err := memoKey(prefix)
	if err != nil {
		return err
	}
	hi := append([]byte(nil), lo...)
	for i := len(hi) - 1; i >= 0; i-- {
		if hi[i]++; hi[i] != 0 {
			hi = hi[:i+1]
			break
		}
	}
	return s.indexWrite(func() error { return s.db.DeleteRange(lo, hi, pebble.NoSync) })
}
