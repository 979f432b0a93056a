package client

import (
	"context"
	"net/http"

	"github.com/vmrep/vmrep/api"
)

// Diff compares two snapshots of one volume group.
func (c *Client) Diff(ctx context.Context, req api.DiffRequest) (api.DiffResult, error) {
	return call[api.DiffResult](ctx, c, http.MethodPost, "/v1/diff", req)
}

// CreateReplica starts a job that writes a snapshot into a replica directory.
func (c *Client) CreateReplica(ctx context.Context, req api.ReplicaRequest) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodPost, "/v1/replicas", req)
}

// ExportDelta starts a job that writes the delta between two snapshots.
func (c *Client) ExportDelta(ctx context.Context, req api.DeltaExportRequest) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodPost, "/v1/deltas/export", req)
}

// ApplyDelta starts a job that moves a replica forward with a delta.
func (c *Client) ApplyDelta(ctx context.Context, req api.DeltaApplyRequest) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodPost, "/v1/deltas/apply", req)
}

// ShowDelta reads a delta's header and sums up its records.
func (c *Client) ShowDelta(ctx context.Context, req api.DeltaShowRequest) (api.DeltaInfo, error) {
	return call[api.DeltaInfo](ctx, c, http.MethodPost, "/v1/deltas/show", req)
}

// GenerateStack writes an OpenTofu stack for a snapshot or a delta.
func (c *Client) GenerateStack(ctx context.Context, req api.StackRequest) (api.StackResult, error) {
	return call[api.StackResult](ctx, c, http.MethodPost, "/v1/stacks", req)
}

// Export starts a job that writes one volume as a QCOW2 or raw image.
func (c *Client) Export(ctx context.Context, req api.ExportRequest) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodPost, "/v1/export", req)
}

// VerifyReplica starts a job that checks a replica's volume files against
// what its state file names.
func (c *Client) VerifyReplica(ctx context.Context, req api.ReplicaDirRequest) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodPost, "/v1/replicas/verify", req)
}

// ShowReplica describes a replica: its state file, volume files and any
// apply in progress.
func (c *Client) ShowReplica(ctx context.Context, req api.ReplicaDirRequest) (api.ReplicaInfo, error) {
	return call[api.ReplicaInfo](ctx, c, http.MethodPost, "/v1/replicas/show", req)
}
