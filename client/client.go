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

// Error is an error the daemon answered with: the API's error body, so a
// daemon that relays a peer's answer keeps its code.
type Error = api.Error

// IsCode reports whether err is an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Client talks to one daemon over its Unix socket (New), or to a
// replication server over HTTPS (NewRemote): one wire format, one client.
type Client struct {
	base   string // what paths are appended to: "http://vmrepd", "https://HOST:PORT"
	socket string // the Unix socket; empty for a replication server
	addr   string // the replication server's HOST:PORT; empty for the socket
	token  string // bearer token sent with every request, when set
	source string // api.ReplSourceHeader sent with every request, when set
	// maxAnswer bounds a decoded answer; 0: no bound.
	maxAnswer int64
	http      *http.Client
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
	return &Client{base: "http://vmrepd", socket: socket, http: &http.Client{Transport: tr}}
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Socket is the path the client connects to.
func (c *Client) Socket() string { return c.socket }

// call sends one request and decodes the reply into a new T.
func call[T any](ctx context.Context, c *Client, method, path string, in any) (T, error) {
	var out T
	err := c.do(ctx, method, path, in, &out)
	return out, err
}

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	return c.decode(method, path, resp, out)
}

// decode reads a successful answer into out (when not nil) and closes it.
func (c *Client) decode(method, path string, resp *http.Response, out any) error {
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	var body io.Reader = resp.Body
	if c.maxAnswer > 0 {
		body = io.LimitReader(body, c.maxAnswer)
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return fmt.Errorf("%s: decoding answer: %w", c.where(method, path), err)
	}
	return nil
}

// where names a request in an error: the method and path on the socket,
// the server and path for a replication server.
func (c *Client) where(method, path string) string {
	if c.addr != "" {
		return "replication server " + c.addr + ": " + path
	}
	return method + " " + path
}

// send performs the request and turns error statuses into *Error; the
// caller closes the body of a successful response.
func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s: encoding request: %w", c.where(method, path), err)
		}
		body = bytes.NewReader(b)
	}
	return c.sendRaw(ctx, method, path, "application/json", body)
}

// sendRaw is send with a body the caller built, of type contentType.
func (c *Client) sendRaw(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.where(method, path), err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.source != "" {
		req.Header.Set(api.ReplSourceHeader, c.source)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if c.addr != "" {
			return nil, fmt.Errorf("%s: %w", c.where(method, path), err)
		}
		return nil, fmt.Errorf("connect to vmrepd at %s: %w", c.socket, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, c.decodeError(path, resp)
	}
	return resp, nil
}

// decodeError reads an error answer. A replication server's is prefixed
// with its address, and a refused token says so.
func (c *Client) decodeError(path string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e api.Error
	if json.Unmarshal(b, &e) != nil || e.Code == "" {
		if c.addr != "" {
			return api.Errorf(api.CodeInternal, "replication server %s: %s answered %s: %s", c.addr, path, resp.Status, bytes.TrimSpace(b))
		}
		return api.Errorf(api.CodeInternal, "daemon answered %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	switch {
	case c.addr == "":
		return &e
	case e.Code == api.CodeUnauthorized:
		return api.Errorf(e.Code, "replication server %s refused the bearer token (%s)", c.addr, e.Message)
	}
	return api.Errorf(e.Code, "replication server %s: %s", c.addr, e.Message)
}

// Post sends an arbitrary body to path; tests use it to send what the
// typed calls never would.
func (c *Client) Post(ctx context.Context, path string, body io.Reader) error {
	resp, err := c.sendRaw(ctx, http.MethodPost, path, "application/json", body)
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
