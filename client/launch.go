package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/vmrep/vmrep/api"
)

// Launch starts a job that boots a replica in QEMU and waits for the
// guest to be ready; the job's result is an api.LaunchResult.
func (c *Client) Launch(ctx context.Context, req api.LaunchRequest) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodPost, "/v1/launch", req)
}

// ListInstances lists the VMs the daemon runs from replicas.
func (c *Client) ListInstances(ctx context.Context) ([]api.Instance, error) {
	return call[[]api.Instance](ctx, c, http.MethodGet, "/v1/instances", nil)
}

// StopInstance stops a VM the daemon runs and forgets it.
func (c *Client) StopInstance(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/instances/"+url.PathEscape(id), nil, nil)
}
