package api

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The body of POST /v1/repl/blobs is a blob stream:
//
//	prefix  "VMRB" | version u8 (1) | 3 zero bytes
//	frame*  type u8 (1 chunk, 2 page) | id (32) | length u32 | data
//	end     0xFF
//
// A stream without its end byte was cut short, and the server keeps
// nothing of it. The receiver bounds every length before reading data and
// checks each blob's digest against its id.
const (
	blobStreamMagic   = "VMRB"
	blobStreamVersion = 1
	blobFrameHeader   = 1 + 32 + 4
	blobStreamEnd     = 0xFF
)

// ErrBlobStream is wrapped by every error about a malformed blob stream.
var ErrBlobStream = errors.New("malformed blob stream")

// AppendBlobStreamPrefix appends the stream's prefix to dst.
func AppendBlobStreamPrefix(dst []byte) []byte {
	return append(append(dst, blobStreamMagic...), blobStreamVersion, 0, 0, 0)
}

// AppendBlobFrame appends one blob's frame to dst.
func AppendBlobFrame(dst []byte, typ uint8, id [32]byte, data []byte) []byte {
	dst = append(dst, typ)
	dst = append(dst, id[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(data)))
	return append(dst, data...)
}

// AppendBlobStreamEnd appends the end byte.
func AppendBlobStreamEnd(dst []byte) []byte { return append(dst, blobStreamEnd) }

// BlobStreamReader reads a blob stream frame by frame.
type BlobStreamReader struct {
	r      *bufio.Reader
	maxLen uint32
	prefix bool
	done   bool
	hdr    [blobFrameHeader]byte
}

// NewBlobStreamReader reads frames from r, refusing data longer than maxLen.
func NewBlobStreamReader(r io.Reader, maxLen uint32) *BlobStreamReader {
	return &BlobStreamReader{r: bufio.NewReaderSize(r, 256<<10), maxLen: maxLen}
}

func streamErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBlobStream, fmt.Sprintf(format, args...))
}

// Next reads the next frame, appending its data to buf[:0]. After the end
// byte it returns io.EOF; a stream that ends without it, or has bytes after
// it, is an error wrapping ErrBlobStream.
func (s *BlobStreamReader) Next(buf []byte) (typ uint8, id [32]byte, data []byte, err error) {
	if s.done {
		return 0, id, buf[:0], io.EOF
	}
	if !s.prefix {
		var p [8]byte
		if _, err := io.ReadFull(s.r, p[:]); err != nil {
			return 0, id, buf[:0], streamErr("reading prefix: %v", err)
		}
		if string(p[:4]) != blobStreamMagic || p[4] != blobStreamVersion || p[5]|p[6]|p[7] != 0 {
			return 0, id, buf[:0], streamErr("bad prefix %x (want %q, version %d)", p, blobStreamMagic, blobStreamVersion)
		}
		s.prefix = true
	}
	t, err := s.r.ReadByte()
	if err != nil {
		return 0, id, buf[:0], streamErr("stream ended without its end byte: %v", err)
	}
	if t == blobStreamEnd {
		if _, err := s.r.ReadByte(); err != io.EOF {
			return 0, id, buf[:0], streamErr("bytes after the end byte")
		}
		s.done = true
		return 0, id, buf[:0], io.EOF
	}
	s.hdr[0] = t
	if _, err := io.ReadFull(s.r, s.hdr[1:]); err != nil {
		return 0, id, buf[:0], streamErr("reading frame header: %v", err)
	}
	copy(id[:], s.hdr[1:33])
	n := binary.LittleEndian.Uint32(s.hdr[33:])
	if n > s.maxLen {
		return 0, id, buf[:0], streamErr("blob %x is %d bytes, over the %d-byte limit", id, n, s.maxLen)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	data = buf[:n]
	if _, err := io.ReadFull(s.r, data); err != nil {
		return 0, id, data[:0], streamErr("reading blob %x: %v", id, err)
	}
	return t, id, data, nil
}
