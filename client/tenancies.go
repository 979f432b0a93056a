package client

import (
	"context"
	"net/http"

	"github.com/vmrep/vmrep/api"
)

// ListTenancies lists the tenancies the daemon's replication listener
// hosts, with their usage and quota.
func (c *Client) ListTenancies(ctx context.Context) (api.TenanciesResult, error) {
	return call[api.TenanciesResult](ctx, c, http.MethodGet, api.TenanciesPath, nil)
}
