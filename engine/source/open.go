package source

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrUnsupported is wrapped by errors for images whose format or features
// this package does not decode.
var ErrUnsupported = errors.New("unsupported")

// ErrCorrupt is wrapped by errors for images whose metadata is inconsistent.
var ErrCorrupt = errors.New("corrupt image")

// maxChainDepth bounds backing and parent chains, which also stops loops.
const maxChainDepth = 16

// headerProbe is how much of a file Detect is given.
const headerProbe = 4096

// Open opens the volume at path and returns a Reader for its format, which is
// detected from the content. An NBD URI (IsNBD) is read from its server.
func Open(ctx context.Context, path string) (Reader, error) {
	return openDepth(ctx, path, 0)
}

func openDepth(ctx context.Context, path string, depth int) (Reader, error) {
	if depth == 0 && IsNBD(path) {
		return openNBD(ctx, path)
	}
	if depth > maxChainDepth {
		return nil, fmt.Errorf("source %q: backing chain deeper than %d", path, maxChainDepth)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("source %q: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", path, unwrapPathError(err))
	}
	switch m := st.Mode(); {
	case m.IsDir():
		return nil, fmt.Errorf("source %q: is a directory", path)
	case m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0:
		return openBlock(path)
	case !m.IsRegular():
		return nil, fmt.Errorf("source %q: not a regular file or block device (mode %v)", path, m.Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", path, unwrapPathError(err))
	}
	hdr := make([]byte, headerProbe)
	n, err := f.ReadAt(hdr, 0)
	if err != nil && err != io.EOF {
		f.Close()
		return nil, fmt.Errorf("source %q: read header: %w", path, err)
	}
	format := Detect(hdr[:n])
	var r Reader
	switch format {
	case "raw":
		return newRaw(f, st.Size()), nil
	case "qcow2":
		r, err = openQcow2(f, st.Size(), depth)
	case "vmdk":
		r, err = openVMDK(ctx, f, st.Size(), hdr[:n])
	case "vhdx":
		r, err = openVHDX(ctx, f, st.Size(), depth)
	default:
		f.Close()
		return nil, fmt.Errorf("source %q: %w format %s", path, ErrUnsupported, format)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("source %q: %w", path, err)
	}
	return r, nil
}

// unwrapPathError drops the *PathError's own "op path:" prefix, since the
// caller already names the path.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var vdiMagic = []byte{0x7f, 0x10, 0xda, 0xbe}

// Detect names the format of an image from its first bytes (up to 4 KiB):
// "qcow2", "vmdk", "vhdx", "vpc", "vdi", "qed", "parallels", "luks", or "raw"
// when no known signature is present.
func Detect(header []byte) (format string) {
	has := func(off int, magic string) bool {
		return len(header) >= off+len(magic) && string(header[off:off+len(magic)]) == magic
	}
	switch {
	case has(0, "QFI\xfb"):
		return "qcow2"
	case has(0, "KDMV"), has(0, "COWD"), isVMDKDescriptor(header):
		return "vmdk"
	case has(0, "vhdxfile"):
		return "vhdx"
	case has(0, "conectix"):
		return "vpc"
	case has(0, "<<< ") && len(header) >= 0x44 && bytes.Equal(header[0x40:0x44], vdiMagic):
		return "vdi"
	case has(0, "QED\x00"):
		return "qed"
	case has(0, "WithoutFreeSpace"), has(0, "WithouFreSpacExt"):
		return "parallels"
	case has(0, "LUKS\xba\xbe"):
		return "luks"
	}
	return "raw"
}

// isVMDKDescriptor reports whether header starts a text VMDK descriptor.
func isVMDKDescriptor(header []byte) bool {
	h := header
	return bytes.HasPrefix(h, []byte("# Disk DescriptorFile"))
}

// be32 and friends keep header decoding terse.
func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// readFull reads len(p) bytes at off, treating a short read as corruption.
func readFull(ra io.ReaderAt, p []byte, off int64, what string) error {
	n, err := ra.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %s (%d bytes at %d): %w", what, len(p), off, err)
}

// clipRead bounds a ReadAt request to size; it returns the usable length
// and whether the request ran past the end.
func clipRead(p []byte, off, size int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= size {
		return 0, io.EOF
	}
	if int64(len(p)) > size-off {
		return int(size - off), io.EOF
	}
	return len(p), nil
}
