package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// vmdkExtent is one extent of a VMDK: a flat file, a sparse file or zeros.
// Offsets are relative to the extent's start in the virtual disk.
type vmdkExtent interface {
	// readAt fills p, which lies wholly inside the extent.
	readAt(p []byte, off int64) error
	allocated(ctx context.Context, base, length int64, m *rangeMerger) error
}

type placedExtent struct {
	start, length int64
	ext           vmdkExtent
}

// vmdkReader presents a VMDK's extents, laid end to end, as one volume.
type vmdkReader struct {
	name    string
	size    int64
	extents []placedExtent
	files   []*os.File
}

func (v *vmdkReader) Size() int64    { return v.size }
func (v *vmdkReader) Format() string { return "vmdk" }

func (v *vmdkReader) Close() error {
	var first error
	for _, f := range v.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (v *vmdkReader) ReadAt(p []byte, off int64) (int, error) {
	n, clipErr := clipRead(p, off, v.size)
	if n == 0 {
		return 0, clipErr
	}
	i := sort.Search(len(v.extents), func(i int) bool {
		e := v.extents[i]
		return e.start+e.length > off
	})
	done := 0
	for done < n && i < len(v.extents) {
		e := v.extents[i]
		pos := off + int64(done)
		k := int(min(int64(n-done), e.start+e.length-pos))
		if err := e.ext.readAt(p[done:done+k], pos-e.start); err != nil {
			return done, fmt.Errorf("vmdk %q at %d: %w", v.name, pos, err)
		}
		done += k
		i++
	}
	if done < n {
		return done, fmt.Errorf("vmdk %q at %d: extents end early: %w", v.name, off+int64(done), ErrCorrupt)
	}
	return n, clipErr
}

func (v *vmdkReader) Allocated(ctx context.Context, fn func(Range) error) error {
	m := rangeMerger{ctx: ctx, fn: fn}
	for _, e := range v.extents {
		if err := e.ext.allocated(ctx, e.start, e.length, &m); err != nil {
			return fmt.Errorf("vmdk %q: %w", v.name, err)
		}
	}
	return m.flush()
}

// flatExtent is a plain file holding the extent's bytes from fileOff on.
type flatExtent struct {
	f        *os.File
	fileOff  int64
	fileSize int64
}

func (e *flatExtent) readAt(p []byte, off int64) error {
	pos := e.fileOff + off
	n, err := e.f.ReadAt(p, pos)
	if n == len(p) {
		return nil
	}
	// A flat file shorter than the descriptor says reads as zeros past its
	// end, as VMware and qemu treat it.
	if pos+int64(n) >= e.fileSize && (err == nil || errors.Is(err, io.EOF)) {
		clear(p[n:])
		return nil
	}
	return fmt.Errorf("flat extent %q at %d: %w", e.f.Name(), pos+int64(n), err)
}

func (e *flatExtent) allocated(ctx context.Context, base, length int64, m *rangeMerger) error {
	lo, hi := e.fileOff, e.fileOff+length
	raw := rawReader{f: e.f, size: min(hi, e.fileSize)}
	return raw.Allocated(ctx, func(r Range) error {
		s, t := max(r.Off, lo), min(r.Off+r.Len, hi)
		if s >= t {
			return nil
		}
		return m.add(Range{Off: base + s - lo, Len: t - s})
	})
}

// zeroExtent is a ZERO extent of a descriptor.
type zeroExtent struct{}

func (zeroExtent) readAt(p []byte, _ int64) error { clear(p); return nil }
func (zeroExtent) allocated(context.Context, int64, int64, *rangeMerger) error {
	return nil
}
