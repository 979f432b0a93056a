package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/vmrep/vmrep/api"
)

// remote is this daemon's side of a replication server's endpoints. It is
// the daemon's own small HTTPS client: the daemon must not import the
// project's client package, which speaks the Unix-socket API.
type remote struct {
	addr  string
	token string
	http  *http.Client
}

// newRemote checks the request's address and trust roots and builds the
// client. With no CA the system's roots are trusted.
func newRemote(req api.ReplicateRequest) (*remote, *api.Error) {
	host, port, err := net.SplitHostPort(req.To)
	if err != nil || host == "" || port == "" {
		return nil, api.Errorf(api.CodeInvalid, "replication server %q: want HOST:PORT", req.To)
	}
	if req.Token == "" {
		return nil, api.Errorf(api.CodeInvalid, "replication server %s: a bearer token is required", req.To)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if req.ServerName != "" {
		tc.ServerName = req.ServerName
	}
	if req.CAPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(req.CAPEM)) {
			return nil, api.Errorf(api.CodeInvalid, "replication server %s: the CA file holds no PEM certificate", req.To)
		}
		tc.RootCAs = pool
	}
	tr := &http.Transport{
		TLSClientConfig:     tc,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 30 * time.Second,
		MaxIdleConnsPerHost: 4,
	}
	return &remote{addr: req.To, token: req.Token, http: &http.Client{Transport: tr}}, nil
}

func (rm *remote) close() { rm.http.CloseIdleConnections() }

// post sends body to path and decodes a JSON answer into out.
func (rm *remote) post(ctx context.Context, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+rm.addr+path, body)
	if err != nil {
		return fmt.Errorf("replication server %s: %s: %w", rm.addr, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+rm.token)
	req.Header.Set("Content-Type", contentType)
	resp, err := rm.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("replication server %s: %s: %w", rm.addr, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e api.Error
		if json.Unmarshal(b, &e) != nil || e.Code == "" {
			return api.Errorf(api.CodeInternal, "replication server %s: %s answered %s: %s", rm.addr, path, resp.Status, bytes.TrimSpace(b))
		}
		if e.Code == api.CodeUnauthorized {
			return api.Errorf(e.Code, "replication server %s refused the bearer token (%s)", rm.addr, e.Message)
		}
		return api.Errorf(e.Code, "replication server %s: %s", rm.addr, e.Message)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, api.MaxBodyBytes)).Decode(out); err != nil {
		return fmt.Errorf("replication server %s: %s: decoding answer: %w", rm.addr, path, err)
	}
	return nil
}

func (rm *remote) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("replication server %s: %s: encoding request: %w", rm.addr, path, err)
	}
	return rm.post(ctx, path, "application/json", bytes.NewReader(b), out)
}
