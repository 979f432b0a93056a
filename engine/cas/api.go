package cas

import (
	"context"
	"errors"
	"fmt"
)

// BlobType says what a blob holds.
type BlobType uint8

const (
	BlobChunk BlobType = 1 // a piece of a volume
	BlobPage  BlobType = 2 // a manifest page or top page
)

func (t BlobType) String() string {
	switch t {
	case 0:
		return "blob" // type not known, e.g. an id missing from the index
	case BlobChunk:
		return "chunk"
	case BlobPage:
		return "page"
	}
	return fmt.Sprintf("blobtype(%d)", uint8(t))
}

// MaxBlobSize bounds the raw length of any blob.
const MaxBlobSize = 16 << 20

// Sentinel errors; match with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrCorrupt  = errors.New("content does not match its id")
)

// BlobError is returned for a blob that cannot be read correctly. It names
// the blob and where it was looked for; Err is ErrNotFound, ErrCorrupt or an
// I/O error.
type BlobError struct {
	ID     ID
	Type   BlobType
	Pack   string // hex pack name, empty when the index has no entry
	Offset int64
	Err    error
}

func (e *BlobError) Error() string {
	if e.Pack == "" {
		return fmt.Sprintf("%s %s: %v", e.Type, e.ID, e.Err)
	}
	return fmt.Sprintf("%s %s in pack %s at offset %d: %v", e.Type, e.ID, e.Pack, e.Offset, e.Err)
}

func (e *BlobError) Unwrap() error { return e.Err }

// BlobReader reads verified blobs. Get appends the blob's raw bytes to
// buf[:0] and returns the result; the hash is always checked.
type BlobReader interface {
	Get(ctx context.Context, id ID, buf []byte) ([]byte, error)
	Has(ctx context.Context, id ID) (bool, error)
}

// BlobWriter stores blobs. Put is safe for concurrent use and compresses in
// the caller's goroutine; it reports whether the blob was new. A blob is
// durable and visible to Get only after Flush returns.
type BlobWriter interface {
	Put(ctx context.Context, t BlobType, id ID, data []byte) (stored bool, err error)
	Flush(ctx context.Context) error
}

// BlobStore is both.
type BlobStore interface {
	BlobReader
	BlobWriter
}
