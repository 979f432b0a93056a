package nbd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Conn is one client connection to one export, in the transmission phase.
// Requests are sent one at a time; Conn is safe for concurrent use.
type Conn struct {
	target Target
	ex     export

	mu     struct{ sync.Mutex }
	c      net.Conn
	br     *bufio.Reader
	cookie uint64
	broken error
}

// Options tune Dial.
type Options struct {
	// MetaContexts are the contexts to negotiate, such as "base:allocation"
	// or "qemu:dirty-bitmap:NAME". Those the server does not know are left
	// out; Conn.HasContext tells.
	MetaContexts []string
}

// Dial connects to t and negotiates the export.
func Dial(ctx context.Context, t Target, opts Options) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, t.Network, t.Addr)
	if err != nil {
		return nil, fmt.Errorf("nbd: connect to %s: %w", t.URI(), err)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(time.Minute))
	}
	br := bufio.NewReaderSize(c, 256<<10)
	ex, err := handshake(struct {
		io.Reader
		io.Writer
	}{br, c}, t.Export, opts.MetaContexts)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", t.URI(), err)
	}
	c.SetDeadline(time.Time{})
	return &Conn{target: t, ex: ex, c: c, br: br}, nil
}

// Size is the export's size in bytes.
func (c *Conn) Size() int64 { return c.ex.size }

// HasContext reports whether the server granted the meta context name.
func (c *Conn) HasContext(name string) bool {
	_, ok := c.ex.contexts[name]
	return ok
}

// ReadOnly reports whether the server exports read-only.
func (c *Conn) ReadOnly() bool { return c.ex.flags&(1<<1) != 0 }

// ReadAt reads len(p) bytes at off; reads past the end are cut and give
// io.EOF as io.ReaderAt asks.
func (c *Conn) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("nbd: read at negative offset %d", off)
	}
	want := len(p)
	var eof error
	if off >= c.ex.size {
		return 0, errEOF
	}
	if int64(want) > c.ex.size-off {
		want, eof = int(c.ex.size-off), errEOF
	}
	step := c.step()
	for done := 0; done < want; {
		n := min(want-done, step)
		err := c.do(cmdRead, 0, off+int64(done), uint32(n), nil, func(rr *replyReader) error {
			return rr.readData(p[done:done+n], off+int64(done))
		})
		if err != nil {
			return done, fmt.Errorf("%s: read %d bytes at %d: %w", c.target.URI(), n, off+int64(done), err)
		}
		done += n
	}
	return want, eof
}

func (c *Conn) step() int {
	if m := int(c.ex.maxBlock); m >= 4096 && m < MaxRequest {
		return m
	}
	return MaxRequest
}

// WriteAt writes p at off (tests use it to change an export).
func (c *Conn) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off > c.ex.size || int64(len(p)) > c.ex.size-off {
		return 0, fmt.Errorf("nbd: write [%d,+%d) outside the export of %d bytes", off, len(p), c.ex.size)
	}
	step := c.step()
	for done := 0; done < len(p); {
		n := min(len(p)-done, step)
		err := c.do(cmdWrite, 0, off+int64(done), uint32(n), p[done:done+n], func(rr *replyReader) error { return rr.readAck() })
		if err != nil {
			return done, fmt.Errorf("%s: write %d bytes at %d: %w", c.target.URI(), n, off+int64(done), err)
		}
		done += n
	}
	return len(p), nil
}

// Flush asks the server to make written data durable.
func (c *Conn) Flush() error {
	return c.do(cmdFlush, 0, 0, 0, nil, func(rr *replyReader) error { return rr.readAck() })
}

// BlockStatus calls fn, in order, for the extents of the meta context name
// over [off, off+length).
func (c *Conn) BlockStatus(ctx context.Context, name string, off, length int64, fn func(Extent) error) error {
	id, ok := c.ex.contexts[name]
	if !ok {
		return fmt.Errorf("%s: meta context %q was not granted", c.target.URI(), name)
	}
	end := min(off+length, c.ex.size)
	for off < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(end-off, 1<<30)
		// fn runs after the reply, outside the lock, so that it may read.
		var got []Extent
		err := c.do(cmdBlockStatus, 0, off, uint32(n), nil, func(rr *replyReader) error {
			return rr.readStatus(id, off, n, func(e Extent) error {
				got = append(got, e)
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("%s: block status %q at %d: %w", c.target.URI(), name, off, err)
		}
		for _, e := range got {
			if err := fn(e); err != nil {
				return err
			}
			off = e.Off + e.Length
		}
	}
	return nil
}

// do sends one request and decodes its reply with read. A failed reply
// (even a server error, which may come before the reply's last chunk)
// leaves the stream at an unknown place, so the connection is closed.
func (c *Conn) do(cmd uint16, flags uint16, off int64, length uint32, data []byte, read func(*replyReader) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return c.broken
	}
	c.cookie++
	b := make([]byte, 28, 28+len(data))
	binary.BigEndian.PutUint32(b[0:], magicRequest)
	binary.BigEndian.PutUint16(b[4:], flags)
	binary.BigEndian.PutUint16(b[6:], cmd)
	binary.BigEndian.PutUint64(b[8:], c.cookie)
	binary.BigEndian.PutUint64(b[16:], uint64(off))
	binary.BigEndian.PutUint32(b[24:], length)
	b = append(b, data...)
	if _, err := c.c.Write(b); err != nil {
		c.breakLocked(err)
		return fmt.Errorf("nbd: send request: %w", err)
	}
	err := read(&replyReader{r: c.br, cookie: c.cookie, structured: c.ex.structured})
	if err != nil {
		c.breakLocked(err)
	}
	return err
}

func (c *Conn) breakLocked(err error) {
	c.broken = fmt.Errorf("nbd: connection closed after an earlier failure: %w", err)
	c.c.Close()
}

// Close ends the session with DISC and closes the connection.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken == nil {
		var b [28]byte
		binary.BigEndian.PutUint32(b[0:], magicRequest)
		binary.BigEndian.PutUint16(b[6:], cmdDisc)
		c.c.Write(b[:])
		c.broken = errors.New("nbd: connection closed")
	}
	return c.c.Close()
}
