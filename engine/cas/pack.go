package cas

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/zeebo/blake3"
)

// Pack format sizes, see doc/design.md.
const (
	packHeaderSize  = 24
	blobHeaderSize  = 44
	footerEntrySize = 50
	trailerSize     = 40
	packVersion     = 1

	flagZstd = 1 << 0
	flagS2   = 1 << 1 // stored in s2 block format (store config "s2")
)

var (
	packMagic    = [4]byte{'V', 'M', 'R', 'P'}
	trailerMagic = [4]byte{'V', 'M', 'R', 'F'}
)

// PackEntry is one footer entry: where a blob's data lies in its pack.
type PackEntry struct {
	ID     blob.ID
	Type   blob.Type
	Flags  uint8
	Offset uint64 // of the data, past the blob header
	Stored uint32
	Raw    uint32
}

// PackFooter is the decoded footer of a pack.
type PackFooter struct {
	Entries []PackEntry
	Hash    blob.ID // BLAKE3 of the footer bytes; the pack's name
}

// PackName returns the name a pack with this footer hash has.
func PackName(hash blob.ID) string { return hex.EncodeToString(hash[:]) }

func encodePackHeader(storeID [16]byte) []byte {
	b := make([]byte, packHeaderSize)
	copy(b, packMagic[:])
	b[4] = packVersion
	copy(b[8:], storeID[:])
	return b
}

// decodePackHeader checks the magic and version and returns the store id.
func decodePackHeader(b []byte) ([16]byte, error) {
	var sid [16]byte
	if len(b) < packHeaderSize {
		return sid, fmt.Errorf("short pack header")
	}
	if !bytes.Equal(b[:4], packMagic[:]) {
		return sid, fmt.Errorf("not a pack file (bad magic %q)", b[:4])
	}
	if b[4] != packVersion {
		return sid, fmt.Errorf("unknown pack version %d", b[4])
	}
	if b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return sid, fmt.Errorf("pack header: reserved bytes are not zero")
	}
	copy(sid[:], b[8:24])
	return sid, nil
}

func putBlobHeader(b []byte, t blob.Type, flags uint8, raw, stored uint32, id blob.ID) {
	b[0] = byte(t)
	b[1] = flags
	b[2], b[3] = 0, 0
	binary.LittleEndian.PutUint32(b[4:], raw)
	binary.LittleEndian.PutUint32(b[8:], stored)
	copy(b[12:44], id[:])
}

// encodeFooter returns footer bytes followed by the trailer, and the hash.
func encodeFooter(entries []PackEntry) ([]byte, blob.ID) {
	n := 4 + len(entries)*footerEntrySize
	b := make([]byte, n, n+trailerSize)
	binary.LittleEndian.PutUint32(b, uint32(len(entries)))
	p := b[4:]
	for _, e := range entries {
		copy(p, e.ID[:])
		p[32] = byte(e.Type)
		p[33] = e.Flags
		binary.LittleEndian.PutUint64(p[34:], e.Offset)
		binary.LittleEndian.PutUint32(p[42:], e.Stored)
		binary.LittleEndian.PutUint32(p[46:], e.Raw)
		p = p[footerEntrySize:]
	}
	h := blob.ID(blake3.Sum256(b))
	var t [trailerSize]byte
	binary.LittleEndian.PutUint32(t[:], uint32(n))
	copy(t[4:36], h[:])
	copy(t[36:], trailerMagic[:])
	return append(b, t[:]...), h
}

// decodeTrailer returns the footer length a trailer announces, bounded by
// the pack size so it can be used to allocate.
func decodeTrailer(t []byte, packSize int64) (int, blob.ID, error) {
	var h blob.ID
	if len(t) != trailerSize {
		return 0, h, fmt.Errorf("short pack trailer")
	}
	if !bytes.Equal(t[36:], trailerMagic[:]) {
		return 0, h, fmt.Errorf("bad pack trailer magic %q", t[36:])
	}
	n := int64(binary.LittleEndian.Uint32(t))
	maxCount := packSize / blobHeaderSize
	if n < 4 || n > packSize-packHeaderSize-trailerSize || n > 4+maxCount*footerEntrySize {
		return 0, h, fmt.Errorf("pack footer length %d out of range for a %d-byte pack", n, packSize)
	}
	copy(h[:], t[4:36])
	return int(n), h, nil
}

// decodeFooter parses footer bytes (without trailer), checking them against
// the trailer's hash and every entry against the pack's size.
func decodeFooter(b []byte, want blob.ID, packSize int64) (PackFooter, error) {
	var f PackFooter
	if got := blob.ID(blake3.Sum256(b)); got != want {
		return f, fmt.Errorf("pack footer hash mismatch")
	}
	if len(b) < 4 {
		return f, fmt.Errorf("short pack footer")
	}
	count := int64(binary.LittleEndian.Uint32(b))
	if count > packSize/blobHeaderSize || int64(len(b)) != 4+count*footerEntrySize {
		return f, fmt.Errorf("pack footer count %d does not match its length %d", count, len(b))
	}
	f.Hash = want
	f.Entries = make([]PackEntry, count)
	dataEnd := uint64(packSize) - uint64(len(b)) - trailerSize
	p := b[4:]
	for i := range f.Entries {
		e := &f.Entries[i]
		copy(e.ID[:], p[:32])
		e.Type = blob.Type(p[32])
		e.Flags = p[33]
		e.Offset = binary.LittleEndian.Uint64(p[34:])
		e.Stored = binary.LittleEndian.Uint32(p[42:])
		e.Raw = binary.LittleEndian.Uint32(p[46:])
		p = p[footerEntrySize:]
		if err := e.check(dataEnd); err != nil {
			return f, fmt.Errorf("pack footer entry %d: %w", i, err)
		}
	}
	return f, nil
}

func (e *PackEntry) check(dataEnd uint64) error {
	if e.Type != blob.Chunk && e.Type != blob.Page {
		return fmt.Errorf("blob %s: unknown type %d", e.ID.Short(), e.Type)
	}
	if e.Flags&^(flagZstd|flagS2) != 0 || e.Flags == flagZstd|flagS2 {
		return fmt.Errorf("blob %s: unknown flags %#x", e.ID.Short(), e.Flags)
	}
	if e.Raw > blob.MaxSize || e.Stored > blob.MaxSize+blob.MaxSize/8 {
		return fmt.Errorf("blob %s: length raw=%d stored=%d over the limit", e.ID.Short(), e.Raw, e.Stored)
	}
	if e.Flags == 0 && e.Stored != e.Raw {
		return fmt.Errorf("blob %s: uncompressed but stored %d != raw %d", e.ID.Short(), e.Stored, e.Raw)
	}
	if e.Offset < packHeaderSize+blobHeaderSize || e.Offset+uint64(e.Stored) > dataEnd {
		return fmt.Errorf("blob %s: offset %d length %d outside the pack", e.ID.Short(), e.Offset, e.Stored)
	}
	return nil
}
