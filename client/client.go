package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/vmrep/vmrep/api"
)

// Error is an error the daemon answered with.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// IsCode reports whether err is an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Client talks to one daemon.
type Client struct {
	socket string
	http   *http.Client
}

// New returns a client of the daemon listening on socket.
func New(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConnsPerHost: 8,
	}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Socket is the path the client connects to.
func (c *Client) Socket() string { return c.socket }

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (when not nil).
// call sends one request and decodes the reply into a new T.
func call[T any](ctx context.Context, c *Client, method, path string, in any) (T, error) {
	var out T
	err := c.do(ctx, method, path, in, &out)
	return out, err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
	}
	return nil
}

// send performs the request and turns error statuses into *Error; the
// caller closes the body of a successful response.
func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encoding request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	return c.sendRaw(ctx, method, path, body)
}

// sendRaw is send with a body the caller built.
func (c *Client) sendRaw(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://vmrepd"+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("connect to vmrepd at %s: %w", c.socket, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e api.Error
	if json.Unmarshal(b, &e) != nil || e.Code == "" {
		return &Error{Code: api.CodeInternal, Message: fmt.Sprintf("daemon answered %s: %s", resp.Status, bytes.TrimSpace(b))}
	}
	return &Error{Code: e.Code, Message: e.Message}
}

// Post sends an arbitrary body to path; tests use it to send what the
// typed calls never would.
func (c *Client) Post(ctx context.Context, path string, body io.Reader) error {
	resp, err := c.sendRaw(ctx, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Goroutines asks the daemon how many goroutines it runs.
func (c *Client) Goroutines(ctx context.Context) (int, error) {
	var g api.GoroutinesResponse
	err := c.do(ctx, http.MethodGet, "/v1/debug/goroutines", nil, &g)
	return g.Goroutines, err
}
