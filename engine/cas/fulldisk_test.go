package cas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// smallFS mounts a tmpfs of size bytes on a temp dir for the test.
func smallFS(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a size-limited tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// shrink frees n bytes of the filler.
func shrink(t *testing.T, filler string, n int64) {
	t.Helper()
	fi, err := os.Stat(filler)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filler, max(0, fi.Size()-n)); err != nil {
		t.Fatal(err)
	}
}

// openWithin opens the store in dir, failing the test if Open does not
// return within a few seconds (Pebble used to retry a failing flush for
// ever on a full disk).
func openWithin(t *testing.T, dir string) *Store {
	t.Helper()
	type res struct {
		s   *Store
		err error
	}
	done := make(chan res, 1)
	go func() {
		s, err := Open(context.Background(), dir, Options{})
		done <- res{s, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("open store: %v", r.err)
		}
		t.Cleanup(func() { r.s.Close() })
		return r.s
	case <-time.After(20 * time.Second):
		t.Fatal("open store did not return")
	}
	return nil
}

// noPanic runs fn, turning a panic into a test failure.
func noPanic(t *testing.T, what string, fn func() error) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s panicked: %v", what, r)
		}
	}()
	return fn()
}

// countingHandler counts the error records logged through it.
type countingHandler struct{ errors atomic.Int64 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.errors.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// TestFullDiskIndexWrite fills the store's file system until the index
// itself cannot be written: the write fails with a one-line error, not a
// panic; later writes fail fast, reads go on; the store reopens on the
// full disk read-only and, once space is freed, for writes again.
func TestFullDiskIndexWrite(t *testing.T) {
	ctx := context.Background()
	fs := smallFS(t, 32<<20)
	dir := filepath.Join(fs, "store")
	cfg := DefaultConfig()
	cfg.PackSize = 1 << 20
	if err := Init(ctx, dir, cfg); err != nil {
		t.Fatal(err)
	}
	logged := &countingHandler{}
	s, err := Open(ctx, dir, Options{Logger: slog.New(logged)})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	data := randomBlob(r, 50000)
	id := mustPut(t, s, data)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, blob.RecordVG, "keep", []byte(`{"name":"keep"}`)); err != nil {
		t.Fatal(err)
	}
	filler := testdisk.FillFS(t, fs)

	// Each round frees room for one record file but never for a new WAL,
	// so the index fails once its preallocated WAL is used up.
	var werr error
	for i := 0; i < 40 && werr == nil; i++ {
		shrink(t, filler, 1<<20+64<<10)
		werr = noPanic(t, "PutRecord", func() error {
			return s.PutRecord(ctx, blob.RecordVG, fmt.Sprintf("big-%d", i), randomBlob(r, 1<<20))
		})
	}
	t.Logf("write on the full disk: %v", werr)
	if !errors.Is(werr, ErrReadOnly) {
		t.Fatalf("writing records on a full disk: got %v, want the index's write error", werr)
	}
	const want = "store index cannot be written (no space left on device); free space and restart vmrepd"
	if !strings.HasSuffix(werr.Error(), want) || strings.Contains(werr.Error(), "\n") {
		t.Fatalf("error %q: want one line ending in %q", werr, want)
	}
	// Later writes fail fast with the same error; reads go on.
	if err := noPanic(t, "PutRecord", func() error { return s.PutRecord(ctx, blob.RecordVG, "x", []byte("{}")) }); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write after the failure: %v", err)
	}
	if _, err := s.Put(ctx, blob.Chunk, blob.Sum([]byte("new")), []byte("new")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("put after the failure: %v", err)
	}
	if _, err := s.Sweep(ctx, func(blob.ID) bool { return false }, SweepOptions{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("sweep after the failure: %v", err)
	}
	mustGet(t, s, id, data)
	if _, err := s.GetRecord(ctx, blob.RecordVG, "keep"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // room for background retries to log
	if err := noPanic(t, "Close", s.Close); err == nil {
		t.Log("close after the failure reported no error")
	}
	if n := logged.errors.Load(); n > 5 {
		t.Errorf("the failure logged %d error lines, want a few", n)
	}

	// Reopen on the full disk: read-only, reads served, writes refused.
	s = openWithin(t, dir)
	if s.ReadOnly() == nil {
		t.Fatal("store opened for writes on a full disk")
	}
	mustGet(t, s, id, data)
	if names := listNames(t, s, blob.RecordVG, "keep"); len(names) != 1 {
		t.Fatalf("records on the read-only store: %v", names)
	}
	if err := s.PutRecord(ctx, blob.RecordVG, "y", []byte("{}")); !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "free space and restart vmrepd") {
		t.Fatalf("write to the read-only store: %v", err)
	}
	s.Close()

	// Free space: writable again, and whole.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s = openWithin(t, dir)
	if err := s.ReadOnly(); err != nil {
		t.Fatalf("store still read-only after space was freed: %v", err)
	}
	if err := s.PutRecord(ctx, blob.RecordVG, "after", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, id, data)
	if rep, err := s.Verify(ctx, VerifyOptions{ReadData: true}); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify after freeing space: %+v %v", rep, err)
	}
}

// TestReadOnlyFS opens a store on a file system mounted read-only: it
// serves reads and refuses writes with one line.
func TestReadOnlyFS(t *testing.T) {
	ctx := context.Background()
	fs := smallFS(t, 32<<20)
	dir := filepath.Join(fs, "store")
	if err := Init(ctx, dir, DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, dir)
	data := randomBlob(rand.New(rand.NewPCG(3, 4)), 30000)
	id := mustPut(t, s, data)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, blob.RecordVG, "keep", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := syscall.Mount("", fs, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	s = openWithin(t, dir)
	mustGet(t, s, id, data)
	if _, err := s.GetRecord(ctx, blob.RecordVG, "keep"); err != nil {
		t.Fatal(err)
	}
	err := noPanic(t, "Sweep", func() error { _, err := s.Sweep(ctx, func(blob.ID) bool { return false }, SweepOptions{}); return err })
	const want = "store index cannot be written (read-only file system); make the file system writable and restart vmrepd"
	if !errors.Is(err, ErrReadOnly) || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("sweep on a read-only store: %v, want an error ending in %q", err, want)
	}
	if _, err := s.Put(ctx, blob.Chunk, blob.Sum([]byte("x")), []byte("x")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("put on a read-only store: %v", err)
	}
}

// TestSweepFullDisk sweeps a full store holding ten wholly dead packs and
// two mostly dead ones: the dead packs are deleted (no space needed), the
// rewrites are left for lack of room, and done by a sweep after space is
// freed.
func TestSweepFullDisk(t *testing.T) {
	ctx := context.Background()
	fs := smallFS(t, 48<<20)
	dir := filepath.Join(fs, "store")
	cfg := DefaultConfig()
	cfg.PackSize = 1 << 20
	if err := Init(ctx, dir, cfg); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, dir)
	r := rand.New(rand.NewPCG(5, 6))
	pack := func() []blob.ID {
		var ids []blob.ID
		for range 10 {
			ids = append(ids, mustPut(t, s, randomBlob(r, 110<<10)))
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	for range 10 {
		pack() // wholly dead
	}
	live := map[blob.ID]bool{}
	for range 2 {
		live[pack()[0]] = true // one live blob of ten
	}
	if st, _ := s.Stats(ctx); st.Packs != 12 {
		t.Fatalf("store holds %d packs, want 12", st.Packs)
	}
	filler := testdisk.FillFS(t, fs)
	isLive := func(id blob.ID) bool { return live[id] }
	st, err := noPanicSweep(t, s, isLive)
	if err != nil {
		t.Fatalf("sweep on a full disk: %v", err)
	}
	if st.PacksDeleted != 10 || st.PacksRewritten != 0 || st.PacksSkippedNoSpace != 2 || st.BytesFreed < 10<<20 {
		t.Fatalf("sweep on a full disk: %+v, want the 10 dead packs deleted and 2 skipped", st)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	st, err = noPanicSweep(t, s, isLive)
	if err != nil || st.PacksRewritten != 2 || st.PacksDeleted != 2 || st.PacksSkippedNoSpace != 0 {
		t.Fatalf("sweep with room: %+v %v", st, err)
	}
	rep, err := s.Verify(ctx, VerifyOptions{ReadData: true})
	if err != nil || len(rep.Problems) != 0 || rep.Blobs != 2 {
		t.Fatalf("verify after the sweeps: %+v %v", rep, err)
	}
}

func noPanicSweep(t *testing.T, s *Store, live func(blob.ID) bool) (st SweepStats, err error) {
	t.Helper()
	err = noPanic(t, "Sweep", func() error {
		st, err = s.Sweep(context.Background(), live, SweepOptions{})
		return err
	})
	return st, err
}
