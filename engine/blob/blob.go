package blob

import (
	"context"
	"errors"
	"fmt"
)

// Type says what a blob holds.
type Type uint8

const (
	Chunk Type = 1 // a piece of a volume
	Page  Type = 2 // a manifest page or top page
)

func (t Type) String() string {
	switch t {
	case 0:
		return "blob" // type not known, e.g. an id missing from the index
	case Chunk:
		return "chunk"
	case Page:
		return "page"
	}
	return fmt.Sprintf("blobtype(%d)", uint8(t))
}

// MaxSize bounds the raw length of any blob.
const MaxSize = 16 << 20

// Sentinel errors; match with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrCorrupt  = errors.New("content does not match its id")
)

// Error is returned for a blob that cannot be read correctly. It names the
// blob and where it was looked for; Err is ErrNotFound, ErrCorrupt or an
// I/O error.
type Error struct {
	ID     ID
	Type   Type
	Pack   string // hex pack name, empty when the index has no entry
	Offset int64
	Err    error
}

func (e *Error) Error() string {
	if e.Pack == "" {
		return fmt.Sprintf("%s %s: %v", e.Type, e.ID, e.Err)
	}
	return fmt.Sprintf("%s %s in pack %s at offset %d: %v", e.Type, e.ID, e.Pack, e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Reader reads verified blobs. Get appends the blob's raw bytes to buf[:0]
// and returns the result; the hash is always checked.
type Reader interface {
	Get(ctx context.Context, id ID, buf []byte) ([]byte, error)
	Has(ctx context.Context, id ID) (bool, error)
}

// Writer stores blobs. Put is safe for concurrent use and compresses in the
// caller's goroutine; it reports whether the blob was new. A blob is
// durable and visible to Get only after Flush returns.
type Writer interface {
	Put(ctx context.Context, t Type, id ID, data []byte) (stored bool, err error)
	Flush(ctx context.Context) error
}

// Store is both.
type Store interface {
	Reader
	Writer
}
