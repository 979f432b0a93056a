package cas

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/cockroachdb/pebble/v2"
)

// Index key prefixes, see doc/design.md.
const (
	prefixBlob   = 'b'
	prefixPack   = 'k'
	prefixRecord = 'r'

	blobValueSize = 32 + 8 + 4 + 4 + 1 + 1
	packValueSize = 8 + 4
)

// Location says where a committed blob lies.
type Location struct {
	Pack       string // hex pack name
	Offset     int64  // of the stored data
	Stored     uint32
	Raw        uint32
	Type       blob.Type
	Compressed bool // by zstd, or by s2 when S2 is set
	S2         bool
}

// flags returns the pack-entry flags that describe loc's stored form.
func (loc Location) flags() uint8 {
	switch {
	case loc.S2:
		return flagS2
	case loc.Compressed:
		return flagZstd
	}
	return 0
}

func blobKey(id blob.ID) []byte {
	k := make([]byte, 33)
	k[0] = prefixBlob
	copy(k[1:], id[:])
	return k
}

func packKey(name [32]byte) []byte {
	k := make([]byte, 33)
	k[0] = prefixPack
	copy(k[1:], name[:])
	return k
}

func recordKey(kind blob.RecordKind, name string) []byte {
	k := make([]byte, 0, 2+len(name))
	return append(append(k, prefixRecord, byte(kind)), name...)
}

func encodeBlobValue(pack blob.ID, e PackEntry) []byte {
	v := make([]byte, blobValueSize)
	copy(v, pack[:])
	binary.LittleEndian.PutUint64(v[32:], e.Offset)
	binary.LittleEndian.PutUint32(v[40:], e.Stored)
	binary.LittleEndian.PutUint32(v[44:], e.Raw)
	v[48] = byte(e.Type)
	v[49] = e.Flags
	return v
}

func decodeBlobValue(v []byte) (Location, error) {
	if len(v) != blobValueSize {
		return Location{}, fmt.Errorf("index blob value of %d bytes, want %d", len(v), blobValueSize)
	}
	loc := Location{
		Pack:       hex.EncodeToString(v[:32]),
		Offset:     int64(binary.LittleEndian.Uint64(v[32:])),
		Stored:     binary.LittleEndian.Uint32(v[40:]),
		Raw:        binary.LittleEndian.Uint32(v[44:]),
		Type:       blob.Type(v[48]),
		Compressed: v[49]&(flagZstd|flagS2) != 0,
		S2:         v[49]&flagS2 != 0,
	}
	if loc.Raw > blob.MaxSize || loc.Offset < 0 {
		return Location{}, fmt.Errorf("index blob value out of range")
	}
	return loc, nil
}

func encodePackValue(size int64, count int) []byte {
	v := make([]byte, packValueSize)
	binary.LittleEndian.PutUint64(v, uint64(size))
	binary.LittleEndian.PutUint32(v[8:], uint32(count))
	return v
}

func decodePackValue(v []byte) (size int64, count int, err error) {
	if len(v) != packValueSize {
		return 0, 0, fmt.Errorf("index pack value of %d bytes, want %d", len(v), packValueSize)
	}
	return int64(binary.LittleEndian.Uint64(v)), int(binary.LittleEndian.Uint32(v[8:])), nil
}

func parsePackName(s string) (blob.ID, error) {
	var n blob.ID
	if !isPackName(s) {
		return n, fmt.Errorf("bad pack name %q", s)
	}
	_, err := hex.Decode(n[:], []byte(s))
	return n, err
}

// addPackBatch adds a pack's footer entries and its pack key to b.
func addPackBatch(b *pebble.Batch, name blob.ID, size int64, entries []PackEntry) error {
	for _, e := range entries {
		if err := b.Set(blobKey(e.ID), encodeBlobValue(name, e), nil); err != nil {
			return err
		}
	}
	return b.Set(packKey(name), encodePackValue(size, len(entries)), nil)
}

// prefixBounds returns iterator bounds covering every key starting with p.
func prefixBounds(p []byte) *pebble.IterOptions {
	upper := append([]byte(nil), p...)
	for i := len(upper) - 1; i >= 0; i-- {
		upper[i]++
		if upper[i] != 0 {
			return &pebble.IterOptions{LowerBound: p, UpperBound: upper[:i+1]}
		}
	}
	return &pebble.IterOptions{LowerBound: p}
}

// scanPrefix calls fn for every key/value starting with p, in key order.
// The slices are only valid during the call.
func scanPrefix(db *pebble.DB, p []byte, fn func(k, v []byte) error) error {
	it, err := db.NewIter(prefixBounds(p))
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return err
	}
	return it.Close()
}
