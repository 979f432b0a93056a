package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/vmrep/vmrep/api"
)

// NewRemote returns a client of the replication server at addr
// (HOST:PORT): HTTPS with tc, token sent as a bearer token, answers
// bounded by api.MaxBodyBytes. The daemon uses it to push a snapshot.
func NewRemote(addr, token string, tc *tls.Config) *Client {
	tr := &http.Transport{
		TLSClientConfig:     tc,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 30 * time.Second,
		MaxIdleConnsPerHost: 4,
	}
	return &Client{base: "https://" + addr, addr: addr, token: token, maxAnswer: api.MaxBodyBytes,
		http: &http.Client{Transport: tr}}
}

// SetSource makes every later request name the sending source (its store's
// ID), which the server records as the creator of the VGs it sends. Call
// it before the client is shared.
func (c *Client) SetSource(id string) { c.source = id }

// Addr is the replication server's HOST:PORT; empty for a Unix-socket
// client.
func (c *Client) Addr() string { return c.addr }

// PutReplVG creates or updates the volume group on the replication server.
func (c *Client) PutReplVG(ctx context.Context, vg api.ReplVG) (api.VG, error) {
	var out api.VG
	err := c.do(ctx, http.MethodPost, api.ReplVGsPath, vg, &out)
	return out, err
}

// ReplMissing asks which of ids (32-byte blob IDs back to back, at most
// api.MaxMissingBatch) the replication server lacks.
func (c *Client) ReplMissing(ctx context.Context, ids []byte) (api.ReplMissingResult, error) {
	var out api.ReplMissingResult
	err := c.stream(ctx, api.ReplMissingPath, bytes.NewReader(ids), &out)
	return out, err
}

// ReplBlobs streams blob frames (api.AppendBlobStreamEnd ends them) to the
// replication server.
func (c *Client) ReplBlobs(ctx context.Context, frames io.Reader) (api.ReplBlobsResult, error) {
	var out api.ReplBlobsResult
	err := c.stream(ctx, api.ReplBlobsPath, frames, &out)
	return out, err
}

// PutReplSnapshot commits a snapshot whose blobs the server holds.
func (c *Client) PutReplSnapshot(ctx context.Context, sn api.Snapshot) (api.ReplSnapshotResult, error) {
	return call[api.ReplSnapshotResult](ctx, c, http.MethodPost, api.ReplSnapshotsPath, sn)
}

// ReplMaterialize has the replication server write a replica.
func (c *Client) ReplMaterialize(ctx context.Context, req api.ReplReplicaRequest) (api.ReplicaResult, error) {
	return call[api.ReplicaResult](ctx, c, http.MethodPost, api.ReplReplicasPath, req)
}

// stream posts a binary body and decodes the JSON answer into out.
func (c *Client) stream(ctx context.Context, path string, body io.Reader, out any) error {
	resp, err := c.sendRaw(ctx, http.MethodPost, path, "application/octet-stream", body)
	if err != nil {
		return err
	}
	return c.decode(http.MethodPost, path, resp, out)
}
