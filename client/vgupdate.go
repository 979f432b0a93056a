package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/vmrep/vmrep/api"
)

// UpdateVG changes a volume group's capture settings and returns the group
// as it now is.
func (c *Client) UpdateVG(ctx context.Context, name string, req api.UpdateVGRequest) (api.VG, error) {
	return call[api.VG](ctx, c, http.MethodPatch, "/v1/vgs/"+url.PathEscape(name), req)
}
