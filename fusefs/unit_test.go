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

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

func TestToErrno(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	id := blob.Sum([]byte("x"))
	for _, tc := range []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"nil", nil, 0},
		{"corrupt blob", &blob.Error{ID: id, Err: blob.ErrCorrupt}, syscall.EIO},
		{"missing blob", fmt.Errorf("read: %w", &blob.Error{ID: id, Err: blob.ErrNotFound}), syscall.EIO},
		{"bare corrupt", blob.ErrCorrupt, syscall.EIO},
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
	load := func(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) {
		loads++
		return make([]byte, 4<<10), nil
	}
	ids := make([]blob.ID, 5)
	for i := range ids {
		ids[i] = blob.Sum([]byte{byte(i)})
		e, err := c.get(ctx, ids[i], load)
		if err != nil {
			t.Fatal(err)
		}
		c.release(e)
	}
	if c.mu.size > c.max || c.mu.lru.Len() != 2 {
		t.Errorf("cache holds %d bytes in %d chunks, bound %d", c.mu.size, c.mu.lru.Len(), c.max)
	}
	// The two most recent are kept, the oldest was evicted.
	before := loads
	c.release(must(c.get(ctx, ids[4], load)))
	c.release(must(c.get(ctx, ids[3], load)))
	if loads != before {
		t.Errorf("recent chunks were reloaded")
	}
	c.release(must(c.get(ctx, ids[0], load)))
	if loads != before+1 {
		t.Errorf("evicted chunk was not reloaded")
	}
	// A failed load is not cached.
	bad := func(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) { return nil, blob.ErrCorrupt }
	id := blob.Sum([]byte("bad"))
	for range 2 {
		if _, err := c.get(ctx, id, bad); !errors.Is(err, blob.ErrCorrupt) {
			t.Fatalf("get: %v, want ErrCorrupt", err)
		}
	}
	if c.cached(id) {
		t.Errorf("failed chunk stayed in the cache")
	}
}

func must(e *chunkEntry, err error) *chunkEntry {
	if err != nil {
		panic(err)
	}
	return e
}

// TestChunkCacheRecycle shows that an evicted buffer is reused by a later
// load only after the reader copying from it has released it.
func TestChunkCacheRecycle(t *testing.T) {
	ctx := context.Background()
	c := newChunkCache(4 << 10)
	var got [][]byte
	load := func(fill byte) loadFunc {
		return func(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) {
			got = append(got, buf)
			if cap(buf) < 4<<10 {
				buf = make([]byte, 4<<10)
			}
			buf = buf[:4<<10]
			for i := range buf {
				buf[i] = fill
			}
			return buf, nil
		}
	}
	a, b, d := blob.Sum([]byte("a")), blob.Sum([]byte("b")), blob.Sum([]byte("d"))
	held := must(c.get(ctx, a, load('a')))
	c.release(must(c.get(ctx, b, load('b')))) // evicts a while held
	c.release(must(c.get(ctx, d, load('d')))) // evicts b, free: recycled
	if cap(got[1]) > 0 && &got[1][:1][0] == &held.data[0] {
		t.Fatalf("load of b got a's buffer while a was still held")
	}
	if len(c.mu.free) != 1 {
		t.Fatalf("evicted free chunk not recycled: %d free", len(c.mu.free))
	}
	c.release(must(c.get(ctx, blob.Sum([]byte("e")), load('e'))))
	if cap(got[3]) == 0 || &got[3][:1][0] != &got[1][:1][0] {
		t.Fatalf("load of e did not reuse b's buffer")
	}
	for i, x := range held.data {
		if x != 'a' {
			t.Fatalf("held chunk overwritten at %d: %q", i, x)
		}
	}
	c.release(held) // d was evicted by e and freed; now a too
	if len(c.mu.free) != 2 {
		t.Fatalf("released evicted chunk not recycled: %d free", len(c.mu.free))
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
