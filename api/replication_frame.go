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
//	prefix  "VMRB" | version u8 (1 or 2) | 3 zero bytes
//	frame*  version 1: type u8 (1 chunk, 2 page) | id (32) | length u32 | data
//	        version 2: type u8 | codec u8 | id (32) | raw u32 | length u32 | data
//	end     0xFF
//
// Version 2 carries each blob in its stored form: data decodes with codec
// (0 none, 1 zstd, 2 s2; the store's pack flags) to raw bytes. A codec-0
// frame has length == raw; a compressed one length <= raw. Senders write
// version 2; receivers read both.
//
// A stream without its end byte was cut short, and the server keeps
// nothing of it. The receiver bounds every length before reading data and
// checks each blob's digest against its id.
const (
	blobStreamMagic   = "VMRB"
	blobStreamVersion = 1
	storedStreamVer   = 2
	blobFrameHeader   = 1 + 32 + 4
	storedFrameHeader = 1 + 1 + 32 + 4 + 4
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

// The codecs of a version 2 frame.
const (
	CodecNone uint8 = 0
	CodecZstd uint8 = 1
	CodecS2   uint8 = 2
)

// BlobFrame is one frame of a blob stream. Data is the blob's raw bytes
// when Codec is CodecNone, else its compressed form of Raw bytes.
type BlobFrame struct {
	Type  uint8
	Codec uint8
	ID    [32]byte
	Raw   uint32
	Data  []byte
}

// AppendStoredStreamPrefix appends the prefix of a version 2 stream, whose
// frames AppendStoredFrame writes.
func AppendStoredStreamPrefix(dst []byte) []byte {
	return append(append(dst, blobStreamMagic...), storedStreamVer, 0, 0, 0)
}

// AppendStoredFrame appends one version 2 frame to dst.
func AppendStoredFrame(dst []byte, f BlobFrame) []byte {
	dst = append(dst, f.Type, f.Codec)
	dst = append(dst, f.ID[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, f.Raw)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(f.Data)))
	return append(dst, f.Data...)
}

// AppendBlobStreamEnd appends the end byte.
func AppendBlobStreamEnd(dst []byte) []byte { return append(dst, blobStreamEnd) }

// BlobStreamReader reads a blob stream frame by frame.
type BlobStreamReader struct {
	r       *bufio.Reader
	maxLen  uint32
	prefix  bool
	version uint8
	done    bool
	hdr     [storedFrameHeader]byte
}

// NewBlobStreamReader reads frames from r, refusing data longer than maxLen.
func NewBlobStreamReader(r io.Reader, maxLen uint32) *BlobStreamReader {
	return &BlobStreamReader{r: bufio.NewReaderSize(r, 256<<10), maxLen: maxLen}
}

func streamErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBlobStream, fmt.Sprintf(format, args...))
}

// Next reads the next frame of a version 1 stream, appending its data to
// buf[:0]. After the end byte it returns io.EOF; a stream that ends
// without it, or has bytes after it, is an error wrapping ErrBlobStream,
// as is a compressed frame (read those with NextFrame).
func (s *BlobStreamReader) Next(buf []byte) (typ uint8, id [32]byte, data []byte, err error) {
	f, err := s.NextFrame(buf)
	if err == nil && f.Codec != CodecNone {
		return 0, f.ID, f.Data[:0], streamErr("blob %x is compressed", f.ID)
	}
	return f.Type, f.ID, f.Data, err
}

// NextFrame reads the next frame of a version 1 or 2 stream, appending
// its data to buf[:0]; version 1 frames come with CodecNone. Errors are
// as Next's. Raw is bounded by the reader's maxLen, and so is Data.
func (s *BlobStreamReader) NextFrame(buf []byte) (f BlobFrame, err error) {
	if s.done {
		return f, io.EOF
	}
	if !s.prefix {
		var p [8]byte
		if _, err := io.ReadFull(s.r, p[:]); err != nil {
			return f, streamErr("reading prefix: %v", err)
		}
		if string(p[:4]) != blobStreamMagic || (p[4] != blobStreamVersion && p[4] != storedStreamVer) || p[5]|p[6]|p[7] != 0 {
			return f, streamErr("bad prefix %x (want %q, version %d or %d)", p, blobStreamMagic, blobStreamVersion, storedStreamVer)
		}
		s.prefix, s.version = true, p[4]
	}
	t, err := s.r.ReadByte()
	if err != nil {
		return f, streamErr("stream ended without its end byte: %v", err)
	}
	if t == blobStreamEnd {
		if _, err := s.r.ReadByte(); err != io.EOF {
			return f, streamErr("bytes after the end byte")
		}
		s.done = true
		return f, io.EOF
	}
	f.Type = t
	var n uint32
	if s.version == blobStreamVersion {
		hdr := s.hdr[:blobFrameHeader]
		if _, err := io.ReadFull(s.r, hdr[1:]); err != nil {
			return f, streamErr("reading frame header: %v", err)
		}
		copy(f.ID[:], hdr[1:33])
		n = binary.LittleEndian.Uint32(hdr[33:])
		f.Raw = n
	} else {
		hdr := s.hdr[:]
		if _, err := io.ReadFull(s.r, hdr[1:]); err != nil {
			return f, streamErr("reading frame header: %v", err)
		}
		f.Codec = hdr[1]
		copy(f.ID[:], hdr[2:34])
		f.Raw = binary.LittleEndian.Uint32(hdr[34:])
		n = binary.LittleEndian.Uint32(hdr[38:])
		switch {
		case f.Codec > CodecS2:
			return f, streamErr("blob %x has unknown codec %d", f.ID, f.Codec)
		case f.Codec == CodecNone && n != f.Raw:
			return f, streamErr("blob %x is uncompressed but %d bytes of %d", f.ID, n, f.Raw)
		case n > f.Raw:
			return f, streamErr("blob %x is compressed to %d bytes, more than its %d", f.ID, n, f.Raw)
		}
	}
	if f.Raw > s.maxLen {
		return f, streamErr("blob %x is %d bytes, over the %d-byte limit", f.ID, f.Raw, s.maxLen)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	f.Data = buf[:n]
	if _, err := io.ReadFull(s.r, f.Data); err != nil {
		f.Data = f.Data[:0]
		return f, streamErr("reading blob %x: %v", f.ID, err)
	}
	return f, nil
}
