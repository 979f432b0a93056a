package client

import (
	"context"
	"net/http"

	"github.com/vmrep/vmrep/api"
)

// Diff compares two snapshots of one volume group.
func (c *Client) Diff(ctx context.Context, req api.DiffRequest) (api.DiffResult, error) {
	var d api.DiffResult
	err := c.do(ctx, http.MethodPost, "/v1/diff", req, &d)
	return d, err
}

// CreateReplica starts a job that writes a snapshot into a replica directory.
func (c *Client) CreateReplica(ctx context.Context, req api.ReplicaRequest) (api.Job, error) {
	var j api.Job
	err := c.do(ctx, http.MethodPost, "/v1/replicas", req, &j)
	return j, err
}

// ExportDelta starts a job that writes the delta between two snapshots.
func (c *Client) ExportDelta(ctx context.Context, req api.DeltaExportRequest) (api.Job, error) {
	var j api.Job
	err := c.do(ctx, http.MethodPost, "/v1/deltas/export", req, &j)
	return j, err
}

// ApplyDelta starts a job that moves a replica forward with a delta.
func (c *Client) ApplyDelta(ctx context.Context, req api.DeltaApplyRequest) (api.Job, error) {
	var j api.Job
	err := c.do(ctx, http.MethodPost, "/v1/deltas/apply", req, &j)
	return j, err
}

// ShowDelta reads a delta's header and sums up its records.
func (c *Client) ShowDelta(ctx context.Context, req api.DeltaShowRequest) (api.DeltaInfo, error) {
	var d api.DeltaInfo
	err := c.do(ctx, http.MethodPost, "/v1/deltas/show", req, &d)
	return d, err
}

// GenerateStack writes an OpenTofu stack for a snapshot or a delta.
func (c *Client) GenerateStack(ctx context.Context, req api.StackRequest) (api.StackResult, error) {
	var s api.StackResult
	err := c.do(ctx, http.MethodPost, "/v1/stacks", req, &s)
	return s, err
}

// Export starts a job that writes one volume as a QCOW2 or raw image.
func (c *Client) Export(ctx context.Context, req api.ExportRequest) (api.Job, error) {
	var j api.Job
	err := c.do(ctx, http.MethodPost, "/v1/export", req, &j)
	return j, err
}
