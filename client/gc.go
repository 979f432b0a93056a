package client

import (
	"context"
	"net/http"

	"github.com/vmrep/vmrep/api"
)

// GC starts a garbage-collection job.
func (c *Client) GC(ctx context.Context, req api.GCRequest) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodPost, "/v1/gc", req)
}
