package client

import (
	"context"
	"net/http"

	"github.com/vmrep/vmrep/api"
)

// Replicate starts a job in which the daemon pushes a snapshot to a
// replication server.
func (c *Client) Replicate(ctx context.Context, req api.ReplicateRequest) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodPost, "/v1/replicate", req)
}
