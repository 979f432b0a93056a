package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/vmrep/vmrep/api"
)

// CreateVG creates a volume group.
func (c *Client) CreateVG(ctx context.Context, req api.CreateVGRequest) (api.VG, error) {
	return call[api.VG](ctx, c, http.MethodPost, "/v1/vgs", req)
}

// ListVGs lists the volume groups.
func (c *Client) ListVGs(ctx context.Context) ([]api.VG, error) {
	return call[[]api.VG](ctx, c, http.MethodGet, "/v1/vgs", nil)
}

// GetVG returns one volume group by name or id.
func (c *Client) GetVG(ctx context.Context, name string) (api.VG, error) {
	return call[api.VG](ctx, c, http.MethodGet, "/v1/vgs/"+url.PathEscape(name), nil)
}

// DeleteVG deletes a volume group; force also drops its snapshot records.
func (c *Client) DeleteVG(ctx context.Context, name string, force bool) error {
	return c.do(ctx, http.MethodDelete, "/v1/vgs/"+url.PathEscape(name)+"?force="+strconv.FormatBool(force), nil, nil)
}
