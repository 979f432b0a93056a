package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/vmrep/vmrep/api"
)

// Status reports where every volume group stands.
func (c *Client) Status(ctx context.Context) (api.StatusReport, error) {
	return call[api.StatusReport](ctx, c, http.MethodGet, "/v1/status", nil)
}

// VGStatus reports where one volume group (name or ID) stands.
func (c *Client) VGStatus(ctx context.Context, vg string) (api.StatusReport, error) {
	return call[api.StatusReport](ctx, c, http.MethodGet, "/v1/status/"+url.PathEscape(vg), nil)
}
