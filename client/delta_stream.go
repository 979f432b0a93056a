package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/vmrep/vmrep/api"
)

// StreamDelta asks for the delta between two snapshots as a stream. The
// caller reads the delta's bytes (after the resume preamble, with a
// resume token) from the returned body and closes it; reading past the
// end returns the error that stopped the export mid-stream, if one did.
func (c *Client) StreamDelta(ctx context.Context, req api.DeltaStreamRequest) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodPost, api.DeltaStreamPath, req)
	if err != nil {
		return nil, err
	}
	return &deltaStream{resp: resp}, nil
}

type deltaStream struct {
	resp *http.Response
}

func (d *deltaStream) Read(p []byte) (int, error) {
	n, err := d.resp.Body.Read(p)
	if errors.Is(err, io.EOF) {
		// Trailers are read with the body's end.
		if msg := d.resp.Trailer.Get(api.DeltaStreamErrorTrailer); msg != "" {
			return n, fmt.Errorf("the daemon stopped the delta export: %s", msg)
		}
	}
	return n, err
}

func (d *deltaStream) Close() error { return d.resp.Body.Close() }
