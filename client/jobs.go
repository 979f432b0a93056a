package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/vmrep/vmrep/api"
)

// maxEventLine bounds one NDJSON line of an event stream.
const maxEventLine = 4 << 20

// ListJobs lists the jobs the daemon remembers.
func (c *Client) ListJobs(ctx context.Context) ([]api.Job, error) {
	return call[[]api.Job](ctx, c, http.MethodGet, "/v1/jobs", nil)
}

// GetJob returns one job.
func (c *Client) GetJob(ctx context.Context, id string) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodGet, "/v1/jobs/"+url.PathEscape(id), nil)
}

// CancelJob asks a running job to stop.
func (c *Client) CancelJob(ctx context.Context, id string) (api.Job, error) {
	return call[api.Job](ctx, c, http.MethodDelete, "/v1/jobs/"+url.PathEscape(id), nil)
}

// Events streams a job's events to fn until the final one, which it
// returns. An error from fn stops the stream.
func (c *Client) Events(ctx context.Context, id string, fn func(api.Event) error) (api.Event, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id)+"/events", nil)
	if err != nil {
		return api.Event{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxEventLine)
	for sc.Scan() {
		var ev api.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return api.Event{}, fmt.Errorf("job %s events: decoding %q: %w", id, sc.Bytes(), err)
		}
		if fn != nil {
			if err := fn(ev); err != nil {
				return ev, err
			}
		}
		if api.Final(ev.State) {
			return ev, nil
		}
	}
	if err := sc.Err(); err != nil {
		return api.Event{}, fmt.Errorf("job %s events: %w", id, err)
	}
	return api.Event{}, fmt.Errorf("job %s events: stream ended before the job did", id)
}

// Wait follows a job to its end and returns its final event; a failed or
// canceled job gives an *Error too.
func (c *Client) Wait(ctx context.Context, id string, fn func(api.Event) error) (api.Event, error) {
	ev, err := c.Events(ctx, id, fn)
	if err != nil {
		return ev, err
	}
	switch ev.State {
	case api.StateDone:
		return ev, nil
	case api.StateCanceled:
		return ev, &Error{Code: api.CodeCanceled, Message: fmt.Sprintf("job %s was canceled", id)}
	}
	if ev.Error != nil {
		return ev, &Error{Code: ev.Error.Code, Message: ev.Error.Message}
	}
	return ev, &Error{Code: api.CodeInternal, Message: fmt.Sprintf("job %s failed", id)}
}
