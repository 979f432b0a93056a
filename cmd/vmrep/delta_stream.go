package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vmrep/vmrep/api"
)

// exportStream writes the delta the daemon builds to stdout as it arrives
// (`-o -`), with what it sent on stderr: stdout carries only the delta.
func (a *app) exportStream(ctx context.Context, req api.DeltaStreamRequest) error {
	if f, ok := a.stdout.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return usagef("-o - writes a binary delta to stdout, which is a terminal; pipe it into vmrep delta apply - or redirect it to a file")
		}
	}
	body, err := a.cl.StreamDelta(ctx, req)
	if err != nil {
		return err
	}
	defer body.Close()
	start := time.Now()
	n, err := io.Copy(a.stdout, body)
	if err != nil {
		return fmt.Errorf("stream delta %s..%s after %d bytes: %w", req.Base, req.Target, n, err)
	}
	what := "sent"
	if req.Resume != "" {
		what = "resumed, sent the rest:"
	}
	fmt.Fprintf(a.stderr, "delta %s..%s %s %s in %s\n", req.Base, req.Target, what, humanBytes(n), time.Since(start).Round(time.Millisecond))
	return nil
}
