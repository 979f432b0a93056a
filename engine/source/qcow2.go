package source

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/lima-vm/go-qcow2reader/image"
	"github.com/lima-vm/go-qcow2reader/image/qcow2"
	"github.com/lima-vm/go-qcow2reader/image/raw"
	qlog "github.com/lima-vm/go-qcow2reader/log"
)

func init() {
	// The library logs warnings through the standard logger; a library of
	// ours must not write to stderr on its own.
	qlog.SetWarnFunc(nil)
}

// qcow2Reader decodes qcow2 through go-qcow2reader, which follows backing
// files and inflates compressed clusters. Its tables are fixed after open and
// its L2 cache is locked, so ReadAt is safe for concurrent use.
type qcow2Reader struct {
	img  *qcow2.Qcow2
	f    *os.File // the top file; img closes it
	name string
	size int64
}

// checkQcow2Header bounds the header fields the library would otherwise
// trust when it allocates the L1 table and clusters.
func checkQcow2Header(ra io.ReaderAt, fileSize int64) error {
	h := make([]byte, 104)
	if err := readFull(ra, h[:72], 0, "qcow2 header"); err != nil {
		return err
	}
	version := be32(h[4:])
	if version != 2 && version != 3 {
		return fmt.Errorf("qcow2 version %d: %w", version, ErrUnsupported)
	}
	backingOff, backingLen := be64(h[8:]), be32(h[16:])
	clusterBits := be32(h[20:])
	size := be64(h[24:])
	l1Size, l1Off := be32(h[36:]), be64(h[40:])
	if clusterBits < 9 || clusterBits > 21 {
		return fmt.Errorf("qcow2 cluster bits %d out of range 9..21: %w", clusterBits, ErrCorrupt)
	}
	if size > 1<<56 {
		return fmt.Errorf("qcow2 virtual size %d too large: %w", size, ErrCorrupt)
	}
	if c := be32(h[32:]); c != 0 {
		return fmt.Errorf("qcow2 encryption method %d: %w", c, ErrUnsupported)
	}
	clusterSize := uint64(1) << clusterBits
	perL1 := clusterSize * (clusterSize / 8)
	need := (size + perL1 - 1) / perL1
	if uint64(l1Size) < need {
		return fmt.Errorf("qcow2 L1 table has %d entries, the size needs %d: %w", l1Size, need, ErrCorrupt)
	}
	if l1Size > 0 && (l1Off == 0 || l1Off > uint64(fileSize) || uint64(l1Size)*8 > uint64(fileSize)-l1Off) {
		return fmt.Errorf("qcow2 L1 table (%d entries at %d) lies beyond the file end %d: %w", l1Size, l1Off, fileSize, ErrCorrupt)
	}
	if backingOff != 0 && (backingLen > 1023 || backingOff > uint64(fileSize) || uint64(backingLen) > uint64(fileSize)-backingOff) {
		return fmt.Errorf("qcow2 backing file name (%d bytes at %d) out of bounds: %w", backingLen, backingOff, ErrCorrupt)
	}
	return nil
}

func openQcow2(f *os.File, fileSize int64, depth int) (Reader, error) {
	img, err := openQcow2Image(f, fileSize, depth)
	if err != nil {
		return nil, err
	}
	return &qcow2Reader{img: img, f: f, name: f.Name(), size: img.Size()}, nil
}

func openQcow2Image(f *os.File, fileSize int64, depth int) (*qcow2.Qcow2, error) {
	if err := checkQcow2Header(f, fileSize); err != nil {
		return nil, err
	}
	img, err := qcow2.Open(f, backingOpener(depth+1))
	if err != nil {
		return nil, fmt.Errorf("qcow2: %w", err)
	}
	if err := img.Readable(); err != nil {
		// Close the backing chain the library may have opened, not f:
		// the caller owns f.
		img.Close()
		return nil, fmt.Errorf("qcow2: %w", err)
	}
	return img, nil
}

// backingOpener opens a backing file for the library, bounding the depth of
// the chain and bounding every qcow2 header in it.
func backingOpener(depth int) image.OpenWithType {
	return func(ra io.ReaderAt, t image.Type) (image.Image, error) {
		f, ok := ra.(*os.File)
		if !ok {
			return failedImage{ra}, fmt.Errorf("backing file is a %T, not a file", ra)
		}
		if depth > maxChainDepth {
			return failedImage{ra}, fmt.Errorf("backing chain deeper than %d", maxChainDepth)
		}
		st, err := f.Stat()
		if err != nil {
			return failedImage{ra}, err
		}
		if !st.Mode().IsRegular() {
			return failedImage{ra}, fmt.Errorf("backing file %q is not a regular file", f.Name())
		}
		if t == "" {
			hdr := make([]byte, 512)
			n, _ := f.ReadAt(hdr, 0)
			t = image.Type(Detect(hdr[:n]))
		}
		switch t {
		case qcow2.Type:
			img, err := openQcow2Image(f, st.Size(), depth)
			if err != nil {
				return failedImage{ra}, err
			}
			return img, nil
		case raw.Type:
			return raw.Open(f)
		}
		return failedImage{ra}, fmt.Errorf("backing file %q: %w format %s", f.Name(), ErrUnsupported, t)
	}
}

// failedImage is returned with an error because the library closes what the
// opener returns even when it fails.
type failedImage struct{ ra io.ReaderAt }

func (failedImage) ReadAt([]byte, int64) (int, error) { return 0, io.ErrUnexpectedEOF }
func (failedImage) Extent(int64, int64) (image.Extent, error) {
	return image.Extent{}, io.ErrUnexpectedEOF
}
func (failedImage) Type() image.Type { return "" }
func (failedImage) Size() int64      { return 0 }
func (failedImage) Readable() error  { return io.ErrUnexpectedEOF }
func (i failedImage) Close() error {
	if c, ok := i.ra.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (q *qcow2Reader) Size() int64    { return q.size }
func (q *qcow2Reader) Format() string { return "qcow2" }
func (q *qcow2Reader) Close() error   { return q.img.Close() }

func (q *qcow2Reader) ReadAt(p []byte, off int64) (int, error) {
	n, clipErr := clipRead(p, off, q.size)
	if n == 0 {
		return 0, clipErr
	}
	got, err := q.img.ReadAt(p[:n], off)
	if got == n {
		return n, clipErr
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return got, fmt.Errorf("qcow2 %q at %d: %w", q.name, off+int64(got), err)
}

// Allocated reports clusters that hold data here or in the backing chain;
// zero clusters and unallocated clusters without backing data are left out.
func (q *qcow2Reader) Allocated(ctx context.Context, fn func(Range) error) error {
	m := rangeMerger{ctx: ctx, fn: fn}
	for off := int64(0); off < q.size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		ext, err := q.img.Extent(off, min(q.size-off, 1<<30))
		if err != nil {
			return fmt.Errorf("qcow2 %q: extent at %d: %w", q.name, off, err)
		}
		if ext.Length <= 0 {
			return fmt.Errorf("qcow2 %q: empty extent at %d: %w", q.name, off, ErrCorrupt)
		}
		if !ext.Zero {
			if err := m.add(Range{Off: off, Len: ext.Length}); err != nil {
				return err
			}
		}
		off += ext.Length
	}
	return m.flush()
}
