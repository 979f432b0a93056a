package client

import (
	"context"
	"net/http"

	"github.com/vmrep/vmrep/api"
)

// Mount asks the daemon to serve the store read-only at req.Dir; the mount
// lasts until Unmount, across daemon restarts.
func (c *Client) Mount(ctx context.Context, req api.MountRequest) (api.MountInfo, error) {
	return call[api.MountInfo](ctx, c, http.MethodPost, "/v1/mounts", req)
}

// ListMounts lists the daemon's mounts, by directory.
func (c *Client) ListMounts(ctx context.Context) ([]api.MountInfo, error) {
	return call[[]api.MountInfo](ctx, c, http.MethodGet, "/v1/mounts", nil)
}

// Unmount unmounts a mount the daemon serves; dir must be absolute.
func (c *Client) Unmount(ctx context.Context, dir string) error {
	return c.do(ctx, http.MethodPost, "/v1/mounts/unmount", api.UnmountRequest{Dir: dir}, nil)
}
