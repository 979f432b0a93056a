package s3backend

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
)

// Lock objects live under locks/: one fixed name for the exclusive lock,
// so that S3's conditional create (If-None-Match: *) lets exactly one of
// two gcs have it, and one name per shared holding.
const (
	locksDir      = "locks/"
	exclusiveName = "exclusive"
	sharedPrefix  = "shared-"
)

// undecodableStale is how long a lock object that does not decode (not
// ours, or from a newer vmrep) keeps others out before it is removed.
const undecodableStale = 10 * time.Minute

var (
	_ cas.Locker         = (*Backend)(nil)
	_ cas.ControlObjects = (*Backend)(nil)
)

func (b *Backend) exclusiveKey() string       { return b.prefix + locksDir + exclusiveName }
func (b *Backend) sharedKey(id string) string { return b.prefix + locksDir + sharedPrefix + id }

// TryLock takes a lock of req.Mode once: a live conflicting lock is a
// *cas.LockBusyError, except that an exclusive taker with req.Waiting set
// that finds only writers keeps its lock object and waits for them. A taker first creates its own lock object, then looks
// for conflicting ones and removes its own again when it finds one, so of
// two takers that race at least one sees the other (restic's order).
func (b *Backend) TryLock(ctx context.Context, req cas.LockRequest) (cas.HeldLock, error) {
	lease := req.Lease
	if lease <= 0 {
		lease = cas.DefaultLease
	}
	id, err := newLockID()
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	now := time.Now()
	li := cas.LockInfo{Mode: req.Mode, ID: id, Host: host, PID: os.Getpid(), Store: req.Store, Why: req.Why,
		Created: now, Expires: now.Add(lease)}
	switch req.Mode {
	case cas.LockExclusive:
		return b.lockExclusive(ctx, li, lease, req.Waiting)
	case cas.LockShared:
		h, err := b.lockShared(ctx, li)
		if err != nil {
			return nil, err
		}
		h.lease = lease
		h.start()
		return h, nil
	}
	return nil, fmt.Errorf("lock bucket %s: bad mode %v", b.bucket, req.Mode)
}

func (b *Backend) lockExclusive(ctx context.Context, li cas.LockInfo, lease time.Duration, waiting func(*cas.LockBusyError)) (*heldLock, error) {
	key := b.exclusiveKey()
	etag, err := b.putLock(ctx, key, li, "")
	if conflict(err) {
		cur, curTag, stale, rerr := b.readLock(ctx, key)
		switch {
		case errors.Is(rerr, blob.ErrNotFound):
			// Released between the two requests: try again later.
			return nil, &cas.LockBusyError{Held: cur}
		case rerr != nil && !stale:
			return nil, rerr
		case cur.ID == li.ID: // our own create, answered late and retried
			etag, err = curTag, nil
		case stale || cur.Stale(time.Now()):
			// Take over with If-Match: of two takers only one replaces it.
			etag, err = b.putLock(ctx, key, li, curTag)
			if conflict(err) {
				return nil, &cas.LockBusyError{Held: cur}
			}
		default:
			return nil, &cas.LockBusyError{Held: cur}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lock bucket %s: %w", b.bucket, err)
	}
	h := &heldLock{b: b, key: key, info: li, etag: etag, lease: lease}
	h.start()
	// Now that ours is there, a writer that comes later backs off; those
	// that came before are waited for (each holds its lock for one job),
	// so that a busy bucket cannot starve gc.
	wait := 100 * time.Millisecond
	for {
		err := b.eachLock(ctx, func(key string, cur cas.LockInfo, stale bool) error {
			if !strings.HasPrefix(key, b.prefix+locksDir+sharedPrefix) {
				return nil
			}
			if stale || cur.Stale(time.Now()) {
				return b.remove(ctx, key)
			}
			return &cas.LockBusyError{Held: cur}
		})
		if err == nil {
			return h, nil
		}
		var busy *cas.LockBusyError
		if !errors.As(err, &busy) || waiting == nil {
			h.Release(context.WithoutCancel(ctx))
			return nil, err
		}
		waiting(busy)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			h.Release(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("%w (waiting: %v)", ctx.Err(), busy)
		case <-h.Lost():
			t.Stop()
			return nil, h.Err()
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

func (b *Backend) lockShared(ctx context.Context, li cas.LockInfo) (*heldLock, error) {
	key := b.sharedKey(li.ID)
	etag, err := b.putLock(ctx, key, li, "")
	if err != nil {
		return nil, fmt.Errorf("lock bucket %s: %w", b.bucket, err)
	}
	h := &heldLock{b: b, key: key, info: li, etag: etag}
	cur, _, stale, err := b.readLock(ctx, b.exclusiveKey())
	switch {
	case errors.Is(err, blob.ErrNotFound), stale, err == nil && cur.Stale(time.Now()):
		return h, nil // a stale exclusive lock is gc's to remove
	case err != nil:
		h.remove(ctx)
		return nil, fmt.Errorf("lock bucket %s: %w", b.bucket, err)
	}
	h.remove(ctx)
	return nil, &cas.LockBusyError{Held: cur}
}

// Locks lists every lock object that decodes, stale ones included.
func (b *Backend) Locks(ctx context.Context) ([]cas.LockInfo, error) {
	var out []cas.LockInfo
	err := b.eachLock(ctx, func(_ string, li cas.LockInfo, stale bool) error {
		if li.ID != "" {
			out = append(out, li)
		}
		return nil
	})
	return out, err
}

// eachLock calls fn for each lock object: stale is true for one that does
// not decode and is older than undecodableStale (li is then empty). An
// object gone between the listing and its read is skipped.
func (b *Backend) eachLock(ctx context.Context, fn func(key string, li cas.LockInfo, stale bool) error) error {
	var keys []string
	err := retry(ctx, func() error {
		keys = keys[:0]
		return b.listOnce(ctx, minio.ListObjectsOptions{Prefix: b.prefix + locksDir}, func(obj minio.ObjectInfo) error {
			keys = append(keys, obj.Key)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("list locks in s3 bucket %s/%s: %w", b.bucket, b.prefix, err)
	}
	for _, key := range keys {
		li, _, stale, err := b.readLock(ctx, key)
		if errors.Is(err, blob.ErrNotFound) {
			continue
		}
		if err != nil && !stale {
			return err
		}
		if err := fn(key, li, stale); err != nil {
			return err
		}
	}
	return nil
}

// readLock reads and decodes one lock object. A lock object that does not
// decode is an error; stale says it is also old enough to remove.
func (b *Backend) readLock(ctx context.Context, key string) (li cas.LockInfo, etag string, stale bool, err error) {
	var data []byte
	var info minio.ObjectInfo
	err = retry(ctx, func() error {
		obj, err := b.client.GetObject(ctx, b.bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer obj.Close()
		if info, err = obj.Stat(); err != nil {
			return err
		}
		data, err = io.ReadAll(io.LimitReader(obj, maxLockFile+1))
		return err
	})
	if err != nil {
		return li, "", false, fmt.Errorf("read lock object %s: %w", key, err)
	}
	li, err = decodeLock(data)
	if err != nil {
		return li, info.ETag, time.Since(info.LastModified) > undecodableStale, fmt.Errorf("%s: %w", key, err)
	}
	return li, info.ETag, false, nil
}

// putLock writes a lock object: with ifMatch "" only if none exists
// (If-None-Match: *), else only over the object with that ETag (If-Match).
func (b *Backend) putLock(ctx context.Context, key string, li cas.LockInfo, ifMatch string) (string, error) {
	data := encodeLock(li)
	var etag string
	err := retry(ctx, func() error {
		opts := minio.PutObjectOptions{ContentType: "application/json"}
		if ifMatch == "" {
			opts.SetMatchETagExcept("*")
		} else {
			opts.SetMatchETag(ifMatch)
		}
		up, err := b.client.PutObject(ctx, b.bucket, key, bytes.NewReader(data), int64(len(data)), opts)
		if err != nil {
			return err
		}
		etag = up.ETag
		return nil
	})
	return etag, err
}

func (b *Backend) remove(ctx context.Context, key string) error {
	err := retry(ctx, func() error {
		return b.client.RemoveObject(ctx, b.bucket, key, minio.RemoveObjectOptions{})
	})
	if err != nil {
		return fmt.Errorf("remove lock object %s: %w", key, err)
	}
	return nil
}

// conflict tells a failed condition (If-None-Match, If-Match) from other
// errors; a missing object under If-Match is one too.
func conflict(err error) bool {
	if err == nil {
		return false
	}
	resp := minio.ToErrorResponse(err)
	return resp.Code == "PreconditionFailed" || resp.Code == "ConditionalRequestConflict" ||
		resp.StatusCode == http.StatusPreconditionFailed || resp.StatusCode == http.StatusConflict ||
		errors.Is(err, blob.ErrNotFound)
}

func newLockID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("lock id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// heldLock is a lock object this process wrote; it refreshes it every
// lease/3 with If-Match on its own ETag, so a lock another took over is
// never written back.
type heldLock struct {
	b     *Backend
	key   string
	lease time.Duration

	stop chan struct{}
	done chan struct{}
	lost chan struct{}

	mu struct {
		sync.Mutex
		info cas.LockInfo
		etag string
		err  error
	}
	info cas.LockInfo // as created; before start only
	etag string
}

var _ cas.HeldLock = (*heldLock)(nil)

func (h *heldLock) start() {
	h.mu.info, h.mu.etag = h.info, h.etag
	h.stop, h.done, h.lost = make(chan struct{}), make(chan struct{}), make(chan struct{})
	go h.refresh()
}

func (h *heldLock) Info() cas.LockInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.info
}

func (h *heldLock) Lost() <-chan struct{} { return h.lost }

func (h *heldLock) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.err
}

// refresh extends the lock until stop; a lock not refreshed before its
// expiry is given up (others may already have removed it).
func (h *heldLock) refresh() {
	defer close(h.done)
	tick := time.NewTicker(h.lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
		}
		h.mu.Lock()
		li, etag := h.mu.info, h.mu.etag
		h.mu.Unlock()
		now := time.Now()
		if li.Stale(now) {
			h.lose(fmt.Errorf("%w: not refreshed before it expired at %s", cas.ErrLockLost, li.Expires.UTC().Format(time.RFC3339)))
			return
		}
		old := li.Expires
		li.Expires = now.Add(h.lease)
		ctx, cancel := context.WithDeadline(context.Background(), old)
		tag, err := h.b.putLock(ctx, h.key, li, etag)
		cancel()
		switch {
		case conflict(err):
			h.lose(fmt.Errorf("%w: another process removed or took it over", cas.ErrLockLost))
			return
		case err == nil:
			h.mu.Lock()
			h.mu.info, h.mu.etag = li, tag
			h.mu.Unlock()
		}
		// Other errors: try again at the next tick, until it expires.
	}
}

func (h *heldLock) lose(err error) {
	h.mu.Lock()
	h.mu.err = err
	h.mu.Unlock()
	close(h.lost)
}

// Release stops the refresh and removes the lock object, if it is still
// ours.
func (h *heldLock) Release(ctx context.Context) error {
	close(h.stop)
	<-h.done
	return h.remove(ctx)
}

func (h *heldLock) remove(ctx context.Context) error {
	if h.key == h.b.exclusiveKey() {
		cur, _, _, err := h.b.readLock(ctx, h.key)
		if errors.Is(err, blob.ErrNotFound) || (err == nil && cur.ID != h.info.ID) {
			return nil // another took over our stale lock
		}
	}
	return h.b.remove(ctx, h.key)
}

// ReadControl reads the control object name (under gc/).
func (b *Backend) ReadControl(ctx context.Context, name string) ([]byte, error) {
	key, err := b.controlKey(name)
	if err != nil {
		return nil, err
	}
	var data []byte
	err = retry(ctx, func() error {
		obj, err := b.client.GetObject(ctx, b.bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer obj.Close()
		data, err = io.ReadAll(io.LimitReader(obj, maxControl+1))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read s3 object %s: %w", key, err)
	}
	if len(data) > maxControl {
		return nil, fmt.Errorf("read s3 object %s: more than %d bytes", key, maxControl)
	}
	return data, nil
}

// WriteControl replaces the control object name.
func (b *Backend) WriteControl(ctx context.Context, name string, data []byte) error {
	key, err := b.controlKey(name)
	if err != nil {
		return err
	}
	err = retry(ctx, func() error {
		_, err := b.client.PutObject(ctx, b.bucket, key, bytes.NewReader(data), int64(len(data)),
			minio.PutObjectOptions{ContentType: "application/octet-stream"})
		return err
	})
	if err != nil {
		return fmt.Errorf("write s3 object %s: %w", key, err)
	}
	return nil
}

// maxControl bounds a control object read back.
const maxControl = 1 << 30

func (b *Backend) controlKey(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/.") {
		return "", fmt.Errorf("bad control object name %q", name)
	}
	return b.prefix + "gc/" + name, nil
}
