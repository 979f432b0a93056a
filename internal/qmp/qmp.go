package qmp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// maxLine bounds one message from the server.
const maxLine = 16 << 20

// greetingWait bounds the wait for the server's greeting, which a QMP
// socket sends only once its previous client left.
const greetingWait = 10 * time.Second

// Error is an error QEMU answered a command with.
type Error struct {
	Command string
	Class   string `json:"class"`
	Desc    string `json:"desc"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("qmp %s: %s: %s", e.Command, e.Class, e.Desc)
}

// ErrProtocol is wrapped by errors for messages that are not QMP.
var ErrProtocol = errors.New("qmp: protocol error")

// Conn is a QMP session. It is safe for concurrent use; commands run one at
// a time.
type Conn struct {
	path string
	mu   sync.Mutex
	c    net.Conn
	br   *bufio.Reader
	id   uint64
}

// Dial connects to the QMP socket at path and leaves capabilities
// negotiation mode.
func Dial(ctx context.Context, path string) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("qmp: connect to %s: %w", path, err)
	}
	q := &Conn{path: path, c: c, br: bufio.NewReaderSize(c, 64<<10)}
	c.SetDeadline(time.Now().Add(greetingWait))
	var greet struct {
		QMP *json.RawMessage `json:"QMP"`
	}
	line, err := q.readLine()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("qmp: no greeting from %s within %v: a QMP socket serves one client at a time; is another one connected?", path, greetingWait)
	}
	c.SetDeadline(deadline(ctx))
	if err == nil {
		if json.Unmarshal(line, &greet) != nil || greet.QMP == nil {
			err = fmt.Errorf("%w: no greeting from %s", ErrProtocol, path)
		}
	}
	if err == nil {
		err = q.executeLocked(ctx, "qmp_capabilities", nil, nil)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return q, nil
}

func deadline(ctx context.Context) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return time.Now().Add(2 * time.Minute)
}

// Execute runs command with args (nil: none) and decodes its return value
// into out (nil: ignored).
func (q *Conn) Execute(ctx context.Context, command string, args, out any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.c.SetDeadline(deadline(ctx))
	return q.executeLocked(ctx, command, args, out)
}

func (q *Conn) executeLocked(ctx context.Context, command string, args, out any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.id++
	req := struct {
		Execute string `json:"execute"`
		Args    any    `json:"arguments,omitempty"`
		ID      uint64 `json:"id"`
	}{command, args, q.id}
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	if _, err := q.c.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("qmp %s: send: %w", command, err)
	}
	for {
		line, err := q.readLine()
		if err != nil {
			return fmt.Errorf("qmp %s: %w", command, err)
		}
		resp, err := decodeResponse(line)
		if err != nil {
			return fmt.Errorf("qmp %s: %w", command, err)
		}
		if resp.event || resp.id != q.id {
			continue
		}
		if resp.err != nil {
			resp.err.Command = command
			return resp.err
		}
		if out != nil {
			if err := json.Unmarshal(resp.ret, out); err != nil {
				return fmt.Errorf("qmp %s: decode return: %w", command, err)
			}
		}
		return nil
	}
}

type response struct {
	event bool
	id    uint64
	ret   json.RawMessage
	err   *Error
}

// decodeResponse reads one server message: an event, a return or an error.
func decodeResponse(line []byte) (response, error) {
	var m struct {
		Event  string          `json:"event"`
		ID     *uint64         `json:"id"`
		Return json.RawMessage `json:"return"`
		Error  *Error          `json:"error"`
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return response{}, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	switch {
	case m.Event != "":
		return response{event: true}, nil
	case m.ID == nil:
		return response{}, fmt.Errorf("%w: reply without id", ErrProtocol)
	case m.Error != nil:
		return response{id: *m.ID, err: m.Error}, nil
	case m.Return == nil:
		return response{}, fmt.Errorf("%w: reply with neither return nor error", ErrProtocol)
	}
	return response{id: *m.ID, ret: m.Return}, nil
}

// readLine reads one message, at most maxLine bytes.
func (q *Conn) readLine() ([]byte, error) {
	var buf []byte
	for {
		part, err := q.br.ReadSlice('\n')
		if len(buf)+len(part) > maxLine {
			return nil, fmt.Errorf("%w: message longer than %d bytes", ErrProtocol, maxLine)
		}
		buf = append(buf, part...)
		if err == nil {
			if t := bytes.TrimSpace(buf); len(t) > 0 {
				return t, nil
			}
			buf = buf[:0]
			continue
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read from %s: %w", q.path, err)
		}
	}
}

// Close ends the session.
func (q *Conn) Close() error { return q.c.Close() }
