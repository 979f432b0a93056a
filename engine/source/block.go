package source

import (
	"context"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// blockReader reads a block device. Devices cannot say which blocks hold
// data, so the whole device is reported allocated and ingest finds the zeros.
type blockReader struct {
	raw rawReader
}

func openBlock(path string) (Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", path, unwrapPathError(err))
	}
	size, err := blockSize(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("source %q: block device size: %w", path, err)
	}
	return &blockReader{raw: rawReader{f: f, size: size}}, nil
}

func blockSize(f *os.File) (int64, error) {
	var size uint64
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size)))
	if errno != 0 {
		return 0, errno
	}
	if size > 1<<62 {
		return 0, fmt.Errorf("implausible size %d", size)
	}
	return int64(size), nil
}

func (b *blockReader) ReadAt(p []byte, off int64) (int, error) { return b.raw.ReadAt(p, off) }
func (b *blockReader) Size() int64                             { return b.raw.size }
func (b *blockReader) Format() string                          { return "block" }
func (b *blockReader) Close() error                            { return b.raw.Close() }

func (b *blockReader) Allocated(ctx context.Context, fn func(Range) error) error {
	if b.raw.size == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fn(Range{Off: 0, Len: b.raw.size})
}
