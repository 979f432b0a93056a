package s3backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/minio/minio-go/v7"
)

// Backoff bounds. The client retries single requests itself; this loop
// also covers a body cut off mid-read and a listing that fails halfway.
const (
	maxAttempts  = 5
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 2 * time.Second
)

// permanent marks an error that must not be retried (e.g. from a callback).
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// retry runs op until it succeeds, fails permanently, runs out of attempts
// or ctx ends, sleeping with doubling backoff between attempts. Errors come
// back classified: a missing object or bucket matches blob.ErrNotFound.
func retry(ctx context.Context, op func() error) error {
	wait := firstBackoff
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil {
			return nil
		}
		err = classify(err)
		var p permanent
		if errors.As(err, &p) {
			return p.err
		}
		if !transient(err) || attempt == maxAttempts || ctx.Err() != nil {
			if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
				return fmt.Errorf("%w (after %v)", ctx.Err(), err)
			}
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after %v)", ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, maxBackoff)
	}
}

// classify maps S3 error codes to the errors cas callers test for.
func classify(err error) error {
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchKey", "NoSuchBucket", "NotFound":
		return fmt.Errorf("%w: %w", blob.ErrNotFound, err)
	case "InvalidRange":
		// The range starts past the end: a short read, as for a file.
		return permanent{fmt.Errorf("%w: %w", io.ErrUnexpectedEOF, err)}
	}
	return err
}

// transient says whether err may go away if the request is sent again.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, blob.ErrNotFound) {
		return false
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "XMinioServerNotInitialized":
		return true
	}
	if resp.StatusCode >= http.StatusInternalServerError || resp.StatusCode == http.StatusTooManyRequests {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF)
}
