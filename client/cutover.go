package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/vmrep/vmrep/api"
)

// Cutover starts a cutover job on a volume group: final snapshot, final
// delta into the replica, verify, launch for real, mark cut over.
func (c *Client) Cutover(ctx context.Context, vg string, req api.CutoverRequest) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodPost, "/v1/vgs/"+url.PathEscape(vg)+"/cutover", req)
}
