package source

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// FileState names a file and the state it was in: which file (device and
// inode, so a rename keeps it), its size and modification time.
type FileState struct {
	Dev, Ino uint64
	Size     int64
	Mtime    int64 // Unix nanoseconds
}

// StateOf returns the state of an open or named file's FileInfo.
func StateOf(fi os.FileInfo) (FileState, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() {
		return FileState{}, false
	}
	return FileState{Dev: uint64(st.Dev), Ino: st.Ino, Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}, true
}

// Stater is implemented by readers of a regular file (raw and qcow2).
type Stater interface {
	// FileState is the state of the file read, now.
	FileState() (FileState, error)
}

// Layered is implemented by readers of images that lie over a backing file:
// what the top layer holds is what changed since the backing file was
// frozen.
type Layered interface {
	// Backing is the path of the backing file; empty when there is none.
	Backing() string
	// TopAllocated calls fn, in increasing order, for the ranges the top
	// layer defines (data, compressed or zero clusters); every other byte
	// reads from the backing file.
	TopAllocated(ctx context.Context, fn func(Range) error) error
}

func (r *rawReader) FileState() (FileState, error) { return fileState(r.f) }

func (q *qcow2Reader) FileState() (FileState, error) { return fileState(q.f) }

func fileState(f *os.File) (FileState, error) {
	fi, err := f.Stat()
	if err != nil {
		return FileState{}, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	st, ok := StateOf(fi)
	if !ok {
		return FileState{}, fmt.Errorf("stat %s: not a regular file", f.Name())
	}
	return st, nil
}

func (q *qcow2Reader) Backing() string {
	if q.img.BackingFile == "" {
		return ""
	}
	if p := q.img.BackingFileFullPath; p != "" {
		return p
	}
	return filepath.Join(filepath.Dir(q.name), q.img.BackingFile)
}

// qcow2 L2 entry bits.
const (
	qcowCompressed = 1 << 62
	qcowOffsetMask = 0x00fffffffffffe00
)

// TopAllocated walks this file's own L1 and L2 tables; a non-zero L2 entry
// means the top layer defines the cluster.
func (q *qcow2Reader) TopAllocated(ctx context.Context, fn func(Range) error) error {
	h := make([]byte, 104)
	if err := readFull(q.f, h[:104], 0, "qcow2 header"); err != nil {
		return err
	}
	clusterBits := be32(h[20:])
	l1Size, l1Off := be32(h[36:]), int64(be64(h[40:]))
	if be32(h[4:]) >= 3 && be64(h[72:])&(1<<4) != 0 {
		return fmt.Errorf("qcow2 %q: extended L2 entries: %w", q.name, ErrUnsupported)
	}
	fi, err := q.f.Stat()
	if err != nil {
		return err
	}
	if err := checkQcow2Header(q.f, fi.Size()); err != nil {
		return fmt.Errorf("qcow2 %q: %w", q.name, err)
	}
	cluster := int64(1) << clusterBits
	perL2 := cluster / 8
	l1 := make([]byte, int64(l1Size)*8)
	if err := readFull(q.f, l1, l1Off, "qcow2 L1 table"); err != nil {
		return fmt.Errorf("qcow2 %q: %w", q.name, err)
	}
	m := rangeMerger{ctx: ctx, fn: fn}
	l2 := make([]byte, cluster)
	for i := range int64(l1Size) {
		base := i * perL2 * cluster
		if base >= q.size {
			break
		}
		l2Off := int64(binary.BigEndian.Uint64(l1[i*8:]) & qcowOffsetMask)
		if l2Off == 0 {
			continue
		}
		if l2Off+cluster > fi.Size() {
			return fmt.Errorf("qcow2 %q: L2 table at %d beyond the file end: %w", q.name, l2Off, ErrCorrupt)
		}
		if err := readFull(q.f, l2, l2Off, "qcow2 L2 table"); err != nil {
			return fmt.Errorf("qcow2 %q: %w", q.name, err)
		}
		for j := range perL2 {
			off := base + j*cluster
			if off >= q.size {
				break
			}
			if binary.BigEndian.Uint64(l2[j*8:])&^(1<<63) == 0 {
				continue
			}
			if err := m.add(Range{Off: off, Len: min(cluster, q.size-off)}); err != nil {
				return err
			}
		}
	}
	return m.flush()
}
