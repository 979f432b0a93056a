package seal

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A sealed file is a header and the plaintext in segments of SegmentSize
// bytes (the last one shorter, or empty for an empty file), each sealed
// with AES-256-GCM under its own random nonce:
//
//	header:  "vmrS" | version 1 | segment shift 16 | 2 zero bytes | plaintext size (uint64 LE)
//	segment: nonce (12) | ciphertext | tag (16)
//
// Each segment's additional data is the header, its index and the file's
// identity (its kind and real name), so a segment cannot move within a
// file or to another file, and the size cannot change, without failing
// authentication. Random nonces bound one data key to about 2^32 segments
// (256 TiB) before the nonce collision risk passes 2^-32.
const (
	HeaderSize   = 16
	segmentShift = 16
	// SegmentSize is the plaintext size of every segment but the last.
	SegmentSize = 1 << segmentShift
	// Overhead is what sealing adds to each segment.
	Overhead = nonceSize + tagSize
	// maxPlainSize bounds the size a header may claim.
	maxPlainSize = 1 << 40
)

var fileMagic = [4]byte{'v', 'm', 'r', 'S'}

// ErrAuth says a sealed file failed authentication: it was altered,
// truncated, or sealed under another key or for another name.
var ErrAuth = errors.New("sealed file fails authentication (damaged or altered)")

// Header is a sealed file's header.
type Header struct {
	Size int64 // plaintext bytes
	raw  [HeaderSize]byte
}

func newHeader(size int64) Header {
	h := Header{Size: size}
	copy(h.raw[:], fileMagic[:])
	h.raw[4] = 1
	h.raw[5] = segmentShift
	binary.LittleEndian.PutUint64(h.raw[8:], uint64(size))
	return h
}

// ParseHeader decodes and checks a sealed file's header.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, fmt.Errorf("sealed file header: %d bytes, want %d", len(b), HeaderSize)
	}
	if [4]byte(b[:4]) != fileMagic {
		return h, errors.New("sealed file header: bad magic (not a sealed file)")
	}
	if b[4] != 1 {
		return h, fmt.Errorf("sealed file header: unknown version %d", b[4])
	}
	if b[5] != segmentShift || b[6] != 0 || b[7] != 0 {
		return h, fmt.Errorf("sealed file header: unknown segment shift %d or flags", b[5])
	}
	size := binary.LittleEndian.Uint64(b[8:16])
	if size > maxPlainSize {
		return h, fmt.Errorf("sealed file header: size %d is too large", size)
	}
	h.Size = int64(size)
	copy(h.raw[:], b[:HeaderSize])
	return h, nil
}

func segments(size int64) int64 {
	if size == 0 {
		return 1
	}
	return (size + SegmentSize - 1) / SegmentSize
}

// SealedSize is the size of the sealed file of size plaintext bytes.
func SealedSize(size int64) int64 { return HeaderSize + size + segments(size)*Overhead }

// PlainSize inverts SealedSize; ok is false for a size no sealed file has
// (a truncated one), with n then a best guess.
func PlainSize(sealed int64) (n int64, ok bool) {
	body := sealed - HeaderSize
	if body < Overhead {
		return 0, false
	}
	full, rest := body/(SegmentSize+Overhead), body%(SegmentSize+Overhead)
	switch {
	case rest == 0:
		return full * SegmentSize, true
	case rest < Overhead, rest == Overhead && full > 0: // Seal writes no empty last segment
		return full * SegmentSize, false
	}
	return full*SegmentSize + rest - Overhead, true
}

// segmentAAD is the additional data of segment i: header, index, identity.
func segmentAAD(buf []byte, h *Header, i int64, id []byte) []byte {
	buf = append(buf[:0], h.raw[:]...)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(i))
	return append(buf, id...)
}

// Seal writes to dst the sealed form of the size bytes src yields; id is
// the file's identity (kind and real name), which a read must repeat.
func (k *Keys) Seal(dst io.Writer, src io.Reader, size int64, id []byte) error {
	if size < 0 || size > maxPlainSize {
		return fmt.Errorf("seal: bad size %d", size)
	}
	h := newHeader(size)
	w := bufio.NewWriterSize(dst, 256<<10)
	if _, err := w.Write(h.raw[:]); err != nil {
		return err
	}
	plain := make([]byte, SegmentSize)
	out := make([]byte, 0, nonceSize+SegmentSize+tagSize)
	var aad []byte
	left := size
	for i := range segments(size) {
		n := min(left, SegmentSize)
		if _, err := io.ReadFull(src, plain[:n]); err != nil {
			return fmt.Errorf("seal: reading plaintext: %w", err)
		}
		left -= n
		out = out[:nonceSize]
		if _, err := rand.Read(out); err != nil {
			return err
		}
		aad = segmentAAD(aad, &h, i, id)
		out = k.file.Seal(out, out[:nonceSize], plain[:n], aad)
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return w.Flush()
}

// ReadAt fills p from plaintext offset off of the sealed file with header
// h and identity id; read reads the sealed file's bytes. Only the segments
// p covers are read and opened. A segment that fails authentication gives
// an error matching ErrAuth and leaves p's content undefined.
func (k *Keys) ReadAt(read func(b []byte, off int64) error, h Header, id, p []byte, off int64) error {
	if off < 0 || off+int64(len(p)) > h.Size {
		return fmt.Errorf("read %d bytes at %d: beyond the end (%d bytes): %w", len(p), off, h.Size, io.ErrUnexpectedEOF)
	}
	if len(p) == 0 {
		return nil
	}
	first, last := off/SegmentSize, (off+int64(len(p))-1)/SegmentSize
	lastLen := min(h.Size-last*SegmentSize, SegmentSize)
	start := HeaderSize + first*(SegmentSize+Overhead)
	end := HeaderSize + last*(SegmentSize+Overhead) + lastLen + Overhead
	buf := make([]byte, end-start)
	if err := read(buf, start); err != nil {
		return err
	}
	var aad []byte
	for i := first; i <= last; i++ {
		seg := buf[(i-first)*(SegmentSize+Overhead):]
		n := min(h.Size-i*SegmentSize, SegmentSize)
		seg = seg[:n+Overhead]
		aad = segmentAAD(aad, &h, i, id)
		// Opened in place: the plaintext overwrites the ciphertext.
		plain, err := k.file.Open(seg[nonceSize:nonceSize], seg[:nonceSize], seg[nonceSize:], aad)
		if err != nil {
			return fmt.Errorf("segment %d: %w", i, ErrAuth)
		}
		segOff := i * SegmentSize
		lo := max(off, segOff) - segOff
		hi := min(off+int64(len(p)), segOff+n) - segOff
		copy(p[max(segOff-off, 0):], plain[lo:hi])
	}
	return nil
}
