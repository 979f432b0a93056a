package restore

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/vmrep/vmrep/internal/durable"
)

// Target is what a volume is written to.
type Target interface {
	io.WriterAt
	// Zero makes [off, off+n) read as zeros without writing data where it can.
	Zero(off, n int64) error
	// Size is the size the target currently has.
	Size() (int64, error)
	Sync() error
}

// FileTarget writes into a regular file or a block device.
type FileTarget struct {
	f     *os.File
	block bool
	fresh bool // the file was just created empty: holes need nothing
	wb    *durable.Writeback
}

// NewFileTarget wraps f. fresh says f was created empty and truncated to its
// size, so its holes already read as zeros.
func NewFileTarget(f *os.File, fresh bool) (*FileTarget, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	switch {
	case fi.Mode().IsRegular():
		return &FileTarget{f: f, fresh: fresh, wb: durable.NewWriteback(f)}, nil
	case fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0:
		return &FileTarget{f: f, block: true, wb: durable.NewWriteback(f)}, nil
	}
	return nil, fmt.Errorf("%s: not a regular file or block device", f.Name())
}

// WriteAt writes p at off and starts writeback every few MiB, so that the
// closing Sync of a large restore or apply has little left to do.
func (t *FileTarget) WriteAt(p []byte, off int64) (int, error) {
	n, err := t.f.WriteAt(p, off)
	t.wb.Wrote(n)
	return n, err
}

func (t *FileTarget) Sync() error { return t.f.Sync() }

// Size returns the file's size or the device's capacity.
func (t *FileTarget) Size() (int64, error) {
	if t.block {
		n, err := unix.IoctlGetUint64(int(t.f.Fd()), unix.BLKGETSIZE64)
		return int64(n), err
	}
	fi, err := t.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Zero punches a hole in a file, or zeroes a device range.
func (t *FileTarget) Zero(off, n int64) error {
	if n <= 0 || t.fresh {
		return nil
	}
	if t.block {
		r := [2]uint64{uint64(off), uint64(n)}
		if err := ioctlPtr(t.f.Fd(), unix.BLKZEROOUT, &r); err == nil {
			return nil
		}
		return t.writeZeros(off, n)
	}
	err := unix.Fallocate(int(t.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		return t.writeZeros(off, n)
	}
	return err
}

func (t *FileTarget) writeZeros(off, n int64) error {
	zeros := make([]byte, min(n, 1<<20))
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := t.f.WriteAt(zeros[:k], off); err != nil {
			return err
		}
		off += k
		n -= k
	}
	return nil
}
