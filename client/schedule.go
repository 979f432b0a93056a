package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/vmrep/vmrep/api"
)

// SetSchedule creates or replaces the schedule of a volume group.
func (c *Client) SetSchedule(ctx context.Context, vg string, req api.ScheduleRequest) (api.Schedule, error) {
	return call[api.Schedule](ctx, c, http.MethodPut, "/v1/schedules/"+url.PathEscape(vg), req)
}

// ListSchedules lists the schedules, by volume group name.
func (c *Client) ListSchedules(ctx context.Context) ([]api.Schedule, error) {
	return call[[]api.Schedule](ctx, c, http.MethodGet, "/v1/schedules", nil)
}

// GetSchedule returns the schedule of a volume group and how its runs went.
func (c *Client) GetSchedule(ctx context.Context, vg string) (api.Schedule, error) {
	return call[api.Schedule](ctx, c, http.MethodGet, "/v1/schedules/"+url.PathEscape(vg), nil)
}

// PauseSchedule stops starting runs of a schedule until ResumeSchedule.
func (c *Client) PauseSchedule(ctx context.Context, vg string) (api.Schedule, error) {
	return call[api.Schedule](ctx, c, http.MethodPost, "/v1/schedules/"+url.PathEscape(vg)+"/pause", nil)
}

// ResumeSchedule starts a paused schedule again from its next slot.
func (c *Client) ResumeSchedule(ctx context.Context, vg string) (api.Schedule, error) {
	return call[api.Schedule](ctx, c, http.MethodPost, "/v1/schedules/"+url.PathEscape(vg)+"/resume", nil)
}

// DeleteSchedule deletes the schedule of a volume group.
func (c *Client) DeleteSchedule(ctx context.Context, vg string) error {
	return c.do(ctx, http.MethodDelete, "/v1/schedules/"+url.PathEscape(vg), nil, nil)
}
