package launch

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// jsonConn speaks QEMU's line-oriented JSON protocols (QMP, the guest
// agent) over a Unix socket: one command, then the first answer that
// carries "return" or "error" (events are skipped).
type jsonConn struct {
	c   net.Conn
	dec *json.Decoder
}

type reply struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string `json:"event"`
}

func dialJSON(ctx context.Context, path string) (*jsonConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	return &jsonConn{c: c, dec: json.NewDecoder(c)}, nil
}

func (j *jsonConn) Close() error { return j.c.Close() }

// call sends cmd with args and decodes the answer's return into out (if
// not nil), waiting at most until deadline.
func (j *jsonConn) call(deadline time.Time, cmd string, args, out any) error {
	if err := j.c.SetDeadline(deadline); err != nil {
		return err
	}
	msg := map[string]any{"execute": cmd}
	if args != nil {
		msg["arguments"] = args
	}
	b, _ := json.Marshal(msg)
	if _, err := j.c.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	for {
		var r reply
		if err := j.dec.Decode(&r); err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		if r.Error != nil {
			return fmt.Errorf("%s: %s: %s", cmd, r.Error.Class, r.Error.Desc)
		}
		if r.Return == nil {
			continue // an event, or QMP's greeting
		}
		if out != nil {
			if err := json.Unmarshal(r.Return, out); err != nil {
				return fmt.Errorf("%s: %w", cmd, err)
			}
		}
		return nil
	}
}

// qmp is a QMP connection past capability negotiation.
type qmp struct{ *jsonConn }

func dialQMP(ctx context.Context, path string) (*qmp, error) {
	j, err := dialJSON(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := j.call(time.Now().Add(5*time.Second), "qmp_capabilities", nil, nil); err != nil {
		j.Close()
		return nil, err
	}
	return &qmp{j}, nil
}

// status is the VM's run state: "running", "internal-error", "shutdown"…
func (q *qmp) status() (string, error) {
	var st struct {
		Status string `json:"status"`
	}
	err := q.call(time.Now().Add(5*time.Second), "query-status", nil, &st)
	return st.Status, err
}

func (q *qmp) quit() error {
	return q.call(time.Now().Add(5*time.Second), "quit", nil, nil)
}
