package delta

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"

	"github.com/zeebo/blake3"
)

// ErrTruncated is wrapped when a delta stream ends before its trailer:
// what arrived may be the start of a good delta, so a receiver keeps it
// and resumes (doc/design.md, "Streaming deltas").
var ErrTruncated = errors.New("delta stream ended before its trailer")

// WriterSink writes a delta as one file's bytes to w, as FileSink writes
// them to disk: `vmrep delta export -o -` sends these over the socket.
// Abort leaves w as it is; the reader sees a stream without its trailer.
func WriterSink(w io.Writer) Sink { return &writerSink{w: w} }

type writerSink struct {
	w   io.Writer
	bw  *bufio.Writer
	sum hash.Hash
	n   int64
}

func (s *writerSink) Begin(h *Header) error {
	hdr, err := json.Marshal(h)
	if err != nil {
		return err
	}
	s.bw, s.sum = bufio.NewWriterSize(s.w, 1<<20), blake3.New()
	return s.write(appendPrefix(nil, kindSingle, hdr))
}

func (s *writerSink) write(b []byte) error {
	s.sum.Write(b)
	s.n += int64(len(b))
	if _, err := s.bw.Write(b); err != nil {
		return fmt.Errorf("write delta stream: %w", err)
	}
	return nil
}

func (s *writerSink) Put(_ int, frame []byte, _ int) error { return s.write(frame) }

func (s *writerSink) Finish() (int64, error) {
	if err := s.write([]byte{endOfFrames}); err != nil {
		return 0, err
	}
	if err := s.write(append([]byte(trailMagic), s.sum.Sum(nil)...)); err != nil {
		return 0, err
	}
	if err := s.bw.Flush(); err != nil {
		return 0, fmt.Errorf("write delta stream: %w", err)
	}
	return s.n, nil
}

func (s *writerSink) Abort() {}

// ScanStream reads one single-file delta from r and returns once it has
// read the trailer and seen r end there. It parses the prefix, the header
// and every frame with the bounds Open and Walk apply, so it knows where
// the delta ends without a length up front; it does not check the
// trailer's checksum (Open does, on the spooled file). A stream that ends
// early wraps ErrTruncated; anything else that is wrong wraps ErrFormat.
// It returns the bytes it took from r.
func ScanStream(ctx context.Context, r io.Reader) (int64, error) {
	src := &eofReader{r: r}
	cr := &countReader{br: bufio.NewReaderSize(src, 64<<10)}
	err := scanStream(ctx, cr, src)
	if err != nil && !errors.Is(err, ErrFormat) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return src.n, err // a read error or a cancel, not the stream's fault
	}
	// Every byte that arrived was consumed and more were wanted: the stream
	// was cut, whatever the parser made of its missing end.
	if err != nil && src.eof && cr.pos == src.n {
		return src.n, fmt.Errorf("%w after %d bytes", ErrTruncated, src.n)
	}
	if err != nil && !errors.Is(err, ErrFormat) {
		err = formatErr("stream", "%v", err)
	}
	return src.n, err
}

func scanStream(ctx context.Context, cr *countReader, src *eofReader) error {
	h, v, err := readStreamHeader(cr)
	if err != nil {
		return err
	}
	rd := &Reader{Header: *h, version: v}
	var fr Frame
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, err := cr.ReadByte()
		if err != nil {
			return err
		}
		if k == endOfFrames {
			break
		}
		if k != frameTag {
			return formatErr("frame", "unknown tag %#x at offset %d", k, cr.pos-1)
		}
		if err := rd.readFrame(cr, &fr, -1, math.MaxInt64/2); err != nil {
			if src.eof && cr.pos == src.n {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	var tr [trailerLen]byte
	if err := cr.full(tr[:]); err != nil {
		return err
	}
	if string(tr[:4]) != trailMagic {
		return formatErr("trailer", "bad magic")
	}
	if _, err := cr.ReadByte(); err != io.EOF {
		if err == nil {
			return formatErr("stream", "bytes after the trailer")
		}
		return err
	}
	return nil
}

// eofReader counts what r returned and remembers that it ended.
type eofReader struct {
	r   io.Reader
	n   int64
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.n += int64(n)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

// ReadStreamHeader reads the prefix and header of a single-file delta
// from the start of r.
func ReadStreamHeader(r *bufio.Reader) (*Header, error) {
	h, _, err := readStreamHeader(&countReader{br: r})
	return h, err
}

func readStreamHeader(cr *countReader) (*Header, byte, error) {
	var pre [prefixLen]byte
	if err := cr.full(pre[:]); err != nil {
		return nil, 0, err
	}
	if string(pre[:4]) != magic || pre[4] < versionBLAKE3Frames || pre[4] > version || pre[6] != 0 || pre[7] != 0 {
		return nil, 0, formatErr("prefix", "bad magic or unknown version")
	}
	if pre[5] != kindSingle {
		return nil, 0, formatErr("prefix", "only a single-file delta can be streamed")
	}
	hlen := binary.LittleEndian.Uint32(pre[8:])
	if hlen > maxHeader {
		return nil, 0, formatErr("prefix", "header length %d out of bounds", hlen)
	}
	hdr := make([]byte, hlen)
	if err := cr.full(hdr); err != nil {
		return nil, 0, err
	}
	h, err := decodeHeader(hdr)
	if err != nil {
		return nil, 0, err
	}
	if len(h.Parts) != 0 {
		return nil, 0, formatErr("header", "a single file lists parts")
	}
	return h, pre[4], nil
}
