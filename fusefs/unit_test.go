package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/volume"
)

func TestToErrno(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	id := cas.Sum([]byte("x"))
	for _, tc := range []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"nil", nil, 0},
		{"corrupt blob", &cas.BlobError{ID: id, Err: cas.ErrCorrupt}, syscall.EIO},
		{"missing blob", fmt.Errorf("read: %w", &cas.BlobError{ID: id, Err: cas.ErrNotFound}), syscall.EIO},
		{"bare corrupt", cas.ErrCorrupt, syscall.EIO},
		{"malformed manifest", fmt.Errorf("page: %w", volume.ErrMalformed), syscall.EIO},
		{"catalog not found", fmt.Errorf("get vg: %w", volume.ErrNotFound), syscall.ENOENT},
		{"file not found", os.ErrNotExist, syscall.ENOENT},
		{"canceled", fmt.Errorf("read: %w", context.Canceled), syscall.EINTR},
		{"errno kept", fmt.Errorf("read: %w", syscall.EINVAL), syscall.EINVAL},
		{"other", errors.New("disk on fire"), syscall.EIO},
	} {
		if got := toErrno(log, "test", tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestChunkCacheBound(t *testing.T) {
	ctx := context.Background()
	c := newChunkCache(10 << 10)
	loads := 0
	load := func(ctx context.Context, id cas.ID) ([]byte, error) {
		loads++
		return make([]byte, 4<<10), nil
	}
	ids := make([]cas.ID, 5)
	for i := range ids {
		ids[i] = cas.Sum([]byte{byte(i)})
		if _, err := c.get(ctx, ids[i], load); err != nil {
			t.Fatal(err)
		}
	}
	if c.mu.size > c.max || c.mu.lru.Len() != 2 {
		t.Errorf("cache holds %d bytes in %d chunks, bound %d", c.mu.size, c.mu.lru.Len(), c.max)
	}
	// The two most recent are kept, the oldest was evicted.
	before := loads
	c.get(ctx, ids[4], load)
	c.get(ctx, ids[3], load)
	if loads != before {
		t.Errorf("recent chunks were reloaded")
	}
	c.get(ctx, ids[0], load)
	if loads != before+1 {
		t.Errorf("evicted chunk was not reloaded")
	}
	// A failed load is not cached.
	bad := func(ctx context.Context, id cas.ID) ([]byte, error) { return nil, cas.ErrCorrupt }
	id := cas.Sum([]byte("bad"))
	for range 2 {
		if _, err := c.get(ctx, id, bad); !errors.Is(err, cas.ErrCorrupt) {
			t.Fatalf("get: %v, want ErrCorrupt", err)
		}
	}
	if c.cached(id) {
		t.Errorf("failed chunk stayed in the cache")
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/mnt/plain`:         "/mnt/plain",
		`/mnt/with\040space`: "/mnt/with space",
		`/mnt/tab\011x`:      "/mnt/tab\tx",
		`/mnt/back\134slash`: `/mnt/back\slash`,
		`/mnt/trailing\04`:   `/mnt/trailing\04`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescape %q = %q, want %q", in, got, want)
		}
	}
}
