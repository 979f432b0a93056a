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
	var vg api.VG
	err := c.do(ctx, http.MethodPost, "/v1/vgs", req, &vg)
	return vg, err
}

// ListVGs lists the volume groups.
func (c *Client) ListVGs(ctx context.Context) ([]api.VG, error) {
	var vgs []api.VG
	err := c.do(ctx, http.MethodGet, "/v1/vgs", nil, &vgs)
	return vgs, err
}

// GetVG returns one volume group by name or id.
func (c *Client) GetVG(ctx context.Context, name string) (api.VG, error) {
	var vg api.VG
	err := c.do(ctx, http.MethodGet, "/v1/vgs/"+url.PathEscape(name), nil, &vg)
	return vg, err
}

// DeleteVG deletes a volume group; force also drops its snapshot records.
func (c *Client) DeleteVG(ctx context.Context, name string, force bool) error {
	return c.do(ctx, http.MethodDelete, "/v1/vgs/"+url.PathEscape(name)+"?force="+strconv.FormatBool(force), nil, nil)
}
