package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/vmrep/vmrep/api"
)

func snapPath(vg string) string { return "/v1/vgs/" + url.PathEscape(vg) + "/snapshots" }

// CreateSnapshot starts a snapshot job on a volume group; req.Full reads
// every volume whole, ignoring changed-block hints.
func (c *Client) CreateSnapshot(ctx context.Context, vg string, req api.CreateSnapshotRequest) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodPost, snapPath(vg), req)
}

// ListSnapshots lists a volume group's snapshots, oldest first.
func (c *Client) ListSnapshots(ctx context.Context, vg string) ([]api.Snapshot, error) {
	return call[[]api.Snapshot](ctx, c, http.MethodGet, snapPath(vg), nil)
}

// GetSnapshot returns a snapshot; seq is a number or "latest".
func (c *Client) GetSnapshot(ctx context.Context, vg, seq string) (api.Snapshot, error) {
	return call[api.Snapshot](ctx, c, http.MethodGet, snapPath(vg)+"/"+url.PathEscape(seq), nil)
}

// DeleteSnapshot deletes a snapshot record; seq is a number or "latest".
// force deletes a snapshot a known replica or replication target still
// builds on.
func (c *Client) DeleteSnapshot(ctx context.Context, vg, seq string, force bool) error {
	p := snapPath(vg) + "/" + url.PathEscape(seq)
	if force {
		p += "?force=true"
	}
	return c.do(ctx, http.MethodDelete, p, nil, nil)
}

// Restore starts a restore job.
func (c *Client) Restore(ctx context.Context, req api.RestoreRequest) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodPost, "/v1/restore", req)
}

// Verify starts a verify job.
func (c *Client) Verify(ctx context.Context, req api.VerifyRequest) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodPost, "/v1/verify", req)
}

// Forget applies a retention policy to a volume group's snapshots and,
// unless req.DryRun, deletes those it removes.
func (c *Client) Forget(ctx context.Context, vg string, req api.ForgetRequest) (api.ForgetResult, error) {
	return call[api.ForgetResult](ctx, c, http.MethodPost, "/v1/vgs/"+url.PathEscape(vg)+"/forget", req)
}

// PinSnapshot pins a snapshot (seq is a number or "latest") so that forget
// keeps it and delete needs force; it returns the snapshot with its pin.
func (c *Client) PinSnapshot(ctx context.Context, vg, seq, note string) (api.Snapshot, error) {
	return call[api.Snapshot](ctx, c, http.MethodPost, snapPath(vg)+"/"+url.PathEscape(seq)+"/pin", api.PinRequest{Note: note})
}

// UnpinSnapshot removes a snapshot's pin; a snapshot not pinned is
// api.CodeNotFound.
func (c *Client) UnpinSnapshot(ctx context.Context, vg, seq string) error {
	return c.do(ctx, http.MethodDelete, snapPath(vg)+"/"+url.PathEscape(seq)+"/pin", nil, nil)
}
