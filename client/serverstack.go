package client

import (
	"context"
	"net/http"

	"github.com/vmrep/vmrep/api"
)

// GenerateServerStack writes an OpenTofu stack that provisions a
// replication server.
func (c *Client) GenerateServerStack(ctx context.Context, req api.ServerStackRequest) (api.ServerStackResult, error) {
	return call[api.ServerStackResult](ctx, c, http.MethodPost, api.ServerStackPath, req)
}
