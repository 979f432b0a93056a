package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// rawReader reads a regular file as the volume itself.
type rawReader struct {
	f    *os.File
	size int64
}

func newRaw(f *os.File, size int64) *rawReader { return &rawReader{f: f, size: size} }

func (r *rawReader) Size() int64    { return r.size }
func (r *rawReader) Format() string { return "raw" }
func (r *rawReader) Close() error   { return r.f.Close() }

func (r *rawReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := clipRead(p, off, r.size)
	if n == 0 {
		return 0, err
	}
	got, rerr := r.f.ReadAt(p[:n], off)
	if got < n {
		// The file shrank under us: that is an error, not zeros.
		if rerr == nil || rerr == io.EOF {
			rerr = io.ErrUnexpectedEOF
		}
		return got, fmt.Errorf("raw %q at %d: %w", r.f.Name(), off+int64(got), rerr)
	}
	return n, err
}

// Allocated walks the file's data extents with SEEK_DATA/SEEK_HOLE. File
// systems that do not support them report the whole file.
func (r *rawReader) Allocated(ctx context.Context, fn func(Range) error) error {
	fd := int(r.f.Fd())
	var off int64
	for off < r.size {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil
		}
		if err != nil {
			if off == 0 && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP)) {
				return fn(Range{Off: 0, Len: r.size})
			}
			return fmt.Errorf("raw %q: seek data from %d: %w", r.f.Name(), off, err)
		}
		if data >= r.size {
			return nil
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("raw %q: seek hole from %d: %w", r.f.Name(), data, err)
		}
		if hole > r.size {
			hole = r.size
		}
		if err := fn(Range{Off: data, Len: hole - data}); err != nil {
			return err
		}
		off = hole
	}
	return nil
}
