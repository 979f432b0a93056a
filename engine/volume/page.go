package volume

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/vmrep/vmrep/engine/blob"
)

// Format constants of manifest pages and top pages (doc/design.md,
// "Manifest").
const (
	pageMagic     = "VMPG"
	topMagic      = "VMMT"
	formatVersion = 1

	// MaxPageEntries bounds the entries of one page.
	MaxPageEntries = 16384
	// pageCutBits is how many low bits of a chunk ID must be zero for the
	// chunk to end a page: pages average 4096 entries.
	pageCutBits = 12
	pageCutMask = 1<<pageCutBits - 1

	// MaxChunkLength bounds a chunk entry's length when the chunker's own
	// maximum is not at hand: a chunk is a blob.
	MaxChunkLength = blob.MaxSize

	entryChunk = 1
	entryHole  = 2

	hdrLen        = 5      // magic + version
	minEntryLen   = 2      // kind + one-byte length
	minPageRefLen = 2 + 32 // two one-byte uvarints + page id
	idLen         = len(blob.ID{})
)

// ErrMalformed is wrapped by every decoding error of a page or top page.
var ErrMalformed = errors.New("malformed manifest")

// Entry is one extent of a volume: a chunk of Length bytes named by ID, or a
// hole of Length zero bytes (ID is zero then).
type Entry struct {
	ID     blob.ID
	Length int64
	Hole   bool
}

// endsPage reports whether a chunk with this id ends its page. Bytes 24..32
// are used so the bits are independent of the prefix that short IDs show.
func endsPage(id blob.ID) bool {
	return binary.LittleEndian.Uint64(id[24:32])&pageCutMask == 0
}

// EncodePage appends the page encoding of entries to dst.
func EncodePage(dst []byte, entries []Entry) []byte {
	dst = append(dst, pageMagic...)
	dst = append(dst, formatVersion)
	dst = binary.AppendUvarint(dst, uint64(len(entries)))
	for _, e := range entries {
		if e.Hole {
			dst = append(dst, entryHole)
			dst = binary.AppendUvarint(dst, uint64(e.Length))
			continue
		}
		dst = append(dst, entryChunk)
		dst = binary.AppendUvarint(dst, uint64(e.Length))
		dst = append(dst, e.ID[:]...)
	}
	return dst
}

// DecodePage decodes a page. Chunk lengths above maxChunk are refused.
func DecodePage(b []byte, maxChunk int64) ([]Entry, error) {
	entries, _, err := decodePage(nil, b, maxChunk)
	return entries, err
}

func malformed(what string, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, what, fmt.Sprintf(format, args...))
}

// readUvarint reads a minimally encoded uvarint, so that a page has one
// encoding only.
func readUvarint(b []byte) (uint64, int, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 || n > 1 && b[n-1] == 0 {
		return 0, 0, false
	}
	return v, n, true
}

// decodePage appends the page's entries to dst[:0] and returns them with the
// page's total length. It checks the canonical form the writer produces: no
// two adjacent holes, no page-ending chunk before the last entry.
func decodePage(dst []Entry, b []byte, maxChunk int64) ([]Entry, int64, error) {
	if len(b) < hdrLen || string(b[:4]) != pageMagic {
		return nil, 0, malformed("page", "bad magic")
	}
	if b[4] != formatVersion {
		return nil, 0, malformed("page", "unknown version %d", b[4])
	}
	b = b[hdrLen:]
	count, n, ok := readUvarint(b)
	if !ok {
		return nil, 0, malformed("page", "bad entry count")
	}
	b = b[n:]
	if count == 0 || count > MaxPageEntries || count > uint64(len(b)/minEntryLen) {
		return nil, 0, malformed("page", "entry count %d out of range for %d bytes", count, len(b))
	}
	if uint64(cap(dst)) < count {
		dst = make([]Entry, 0, count)
	}
	dst = dst[:0]
	var total int64
	for i := 0; i < int(count); i++ {
		if len(b) < minEntryLen {
			return nil, 0, malformed("page", "truncated at entry %d", i)
		}
		kind := b[0]
		length, n, ok := readUvarint(b[1:])
		if !ok || length == 0 || length > math.MaxInt64 {
			return nil, 0, malformed("page", "entry %d: bad length", i)
		}
		b = b[1+n:]
		e := Entry{Length: int64(length)}
		switch kind {
		case entryHole:
			e.Hole = true
			if i > 0 && dst[i-1].Hole {
				return nil, 0, malformed("page", "entry %d: adjacent holes", i)
			}
		case entryChunk:
			if e.Length > maxChunk {
				return nil, 0, malformed("page", "entry %d: chunk length %d over %d", i, e.Length, maxChunk)
			}
			if len(b) < idLen {
				return nil, 0, malformed("page", "entry %d: truncated id", i)
			}
			copy(e.ID[:], b[:idLen])
			b = b[idLen:]
			if i < int(count)-1 && endsPage(e.ID) {
				return nil, 0, malformed("page", "entry %d: page-ending chunk inside the page", i)
			}
		default:
			return nil, 0, malformed("page", "entry %d: unknown kind %d", i, kind)
		}
		if total > math.MaxInt64-e.Length {
			return nil, 0, malformed("page", "entry %d: total length overflows", i)
		}
		total += e.Length
		dst = append(dst, e)
	}
	if len(b) != 0 {
		return nil, 0, malformed("page", "%d trailing bytes", len(b))
	}
	return dst, total, nil
}

// EncodeTop appends the top page of a manifest of a volume of size bytes
// with the given pages to dst. PageRef offsets are not stored: they follow
// from the lengths.
func EncodeTop(dst []byte, size int64, pages []PageRef) []byte {
	dst = append(dst, topMagic...)
	dst = append(dst, formatVersion)
	dst = binary.AppendUvarint(dst, uint64(size))
	dst = binary.AppendUvarint(dst, uint64(len(pages)))
	for _, p := range pages {
		dst = binary.AppendUvarint(dst, uint64(p.Length))
		dst = binary.AppendUvarint(dst, uint64(p.Entries))
		dst = append(dst, p.ID[:]...)
	}
	return dst
}

// DecodeTop decodes a top page, deriving each page's offset and checking
// that the page lengths sum to the volume size.
func DecodeTop(b []byte) (size int64, pages []PageRef, err error) {
	if len(b) < hdrLen || string(b[:4]) != topMagic {
		return 0, nil, malformed("top page", "bad magic")
	}
	if b[4] != formatVersion {
		return 0, nil, malformed("top page", "unknown version %d", b[4])
	}
	b = b[hdrLen:]
	usize, n, ok := readUvarint(b)
	if !ok || usize > math.MaxInt64 {
		return 0, nil, malformed("top page", "bad volume size")
	}
	b = b[n:]
	count, n, ok := readUvarint(b)
	if !ok || count > uint64(len(b[n:])/minPageRefLen) {
		return 0, nil, malformed("top page", "bad page count")
	}
	b = b[n:]
	pages = make([]PageRef, 0, count)
	var off int64
	for i := 0; i < int(count); i++ {
		length, n, ok := readUvarint(b)
		if !ok || length == 0 || length > math.MaxInt64 {
			return 0, nil, malformed("top page", "page %d: bad length", i)
		}
		b = b[n:]
		entries, n, ok := readUvarint(b)
		if !ok || entries == 0 || entries > MaxPageEntries || entries > length {
			return 0, nil, malformed("top page", "page %d: bad entry count", i)
		}
		b = b[n:]
		if len(b) < idLen {
			return 0, nil, malformed("top page", "page %d: truncated id", i)
		}
		p := PageRef{Offset: off, Length: int64(length), Entries: int(entries)}
		copy(p.ID[:], b[:idLen])
		b = b[idLen:]
		if off > math.MaxInt64-p.Length {
			return 0, nil, malformed("top page", "page %d: lengths overflow", i)
		}
		off += p.Length
		pages = append(pages, p)
	}
	if len(b) != 0 {
		return 0, nil, malformed("top page", "%d trailing bytes", len(b))
	}
	if off != int64(usize) {
		return 0, nil, malformed("top page", "page lengths sum to %d, volume size is %d", off, usize)
	}
	return int64(usize), pages, nil
}
