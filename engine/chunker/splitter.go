package chunker

import (
	"errors"
	"fmt"
	"io"
)

// maxEmptyReads bounds consecutive (0, nil) reads before the splitter gives
// up with io.ErrNoProgress, as bufio does, instead of spinning forever.
const maxEmptyReads = 100

// Splitter cuts an io.Reader into chunks with a [Cutter]. It keeps one
// buffer of 2*Max bytes, allocated at construction, so Next allocates
// nothing. A Splitter is not safe for concurrent use.
type Splitter struct {
	r     io.Reader
	c     *Cutter
	buf   []byte
	start int   // first byte of buf not yet returned
	end   int   // end of the bytes read into buf
	eof   bool  // r has returned io.EOF
	err   error // sticky read error
}

// NewSplitter returns a Splitter reading r, cutting with c.
func NewSplitter(r io.Reader, c *Cutter) *Splitter {
	return &Splitter{r: r, c: c, buf: make([]byte, 2*c.params.Max)}
}

// Next returns the next chunk. The slice aliases the splitter's buffer and
// is valid only until the next call. At the end of the input Next returns
// nil and io.EOF; an empty input has no chunks. A read error is returned
// wrapped, and again on every later call.
func (s *Splitter) Next() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	max := s.c.params.Max
	if !s.eof && s.end-s.start < max {
		if err := s.fill(); err != nil {
			s.err = fmt.Errorf("chunker: read input after %d buffered bytes: %w", s.end-s.start, err)
			return nil, s.err
		}
	}
	if s.start == s.end {
		return nil, io.EOF
	}
	data := s.buf[s.start:s.end]
	n := s.c.Cut(data, s.eof)
	s.start += n
	return data[:n:n], nil
}

// fill moves the unread bytes to the front of buf and reads until buf is
// full or the reader is exhausted.
func (s *Splitter) fill() error {
	s.end = copy(s.buf, s.buf[s.start:s.end])
	s.start = 0
	empty := 0
	for s.end < len(s.buf) {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		switch {
		case errors.Is(err, io.EOF):
			s.eof = true
			return nil
		case err != nil:
			return err
		case n == 0:
			empty++
			if empty >= maxEmptyReads {
				return io.ErrNoProgress
			}
		default:
			empty = 0
		}
	}
	return nil
}
