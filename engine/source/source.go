package source

import (
	"context"
	"io"
)

// Range is a half-open byte range [Off, Off+Len).
type Range struct {
	Off, Len int64
}

// Reader is a volume's content as a sized, random-access byte source.
type Reader interface {
	io.ReaderAt
	// Size is the virtual size of the volume in bytes.
	Size() int64
	// Allocated calls fn, in increasing order, for the ranges that may hold
	// data. Bytes outside them read as zeros and are never read by ingest.
	// A reader that cannot tell reports one range covering the volume.
	Allocated(ctx context.Context, fn func(Range) error) error
	// Format names what the reader decodes ("raw", "block", "qcow2", ...).
	Format() string
	Close() error
}
