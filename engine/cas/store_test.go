package cas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

// newTestStore inits and opens a store with small packs.
func newTestStore(t testing.TB, packSize int64) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.PackSize = packSize
	if err := Init(context.Background(), dir, cfg); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, dir)
	return s, dir
}

func openTestStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randomBlob(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func compressibleBlob(r *rand.Rand, n int) []byte {
	words := []string{"alpha ", "beta ", "gamma ", "delta ", "vmrep ", "store "}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

func mustPut(t testing.TB, s *Store, data []byte) blob.ID {
	t.Helper()
	id := blob.Sum(data)
	if _, err := s.Put(context.Background(), blob.Chunk, id, data); err != nil {
		t.Fatal(err)
	}
	return id
}

func mustGet(t testing.TB, s *Store, id blob.ID, want []byte) {
	t.Helper()
	got, err := s.Get(context.Background(), id, nil)
	if err != nil {
		t.Fatalf("get %s: %v", id.Short(), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("get %s: wrong bytes", id.Short())
	}
}

func tmpEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestPutGetHasRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"tiny", []byte("x")},
		{"random 64k", randomBlob(r, 64<<10)},
		{"compressible 100k", compressibleBlob(r, 100<<10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := blob.Sum(tc.data)
			if ok, _ := s.Has(ctx, id); ok {
				t.Fatal("Has before Put")
			}
			stored, err := s.Put(ctx, blob.Chunk, id, tc.data)
			if err != nil || !stored {
				t.Fatalf("Put = %v, %v", stored, err)
			}
			if ok, _ := s.Has(ctx, id); !ok {
				t.Fatal("pending blob not found by Has")
			}
			mustGet(t, s, id, tc.data) // pending, before Flush
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			mustGet(t, s, id, tc.data)
			if _, err := s.Lookup(ctx, id); err != nil {
				t.Fatal(err)
			}
		})
	}
	var missing blob.ID
	missing[0] = 1
	_, err := s.Get(ctx, missing, nil)
	var be *blob.Error
	if !errors.As(err, &be) || !errors.Is(err, blob.ErrNotFound) || be.ID != missing {
		t.Fatalf("Get missing = %v, want blob.Error blob.ErrNotFound", err)
	}
}

func TestPutDedup(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	data := randomBlob(rand.New(rand.NewPCG(3, 4)), 50000)
	id := mustPut(t, s, data)
	if stored, err := s.Put(ctx, blob.Chunk, id, data); err != nil || stored {
		t.Fatalf("second pending Put = %v, %v; want false", stored, err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Stats(ctx)
	if stored, err := s.Put(ctx, blob.Chunk, id, data); err != nil || stored {
		t.Fatalf("Put after flush = %v, %v; want false", stored, err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Stats(ctx)
	if before != after || before.Blobs != 1 || before.Packs != 1 {
		t.Fatalf("stats changed by a duplicate Put: %+v -> %+v", before, after)
	}
	if n := len(tmpEntries(t, dir)); n != 0 {
		t.Fatalf("tmp holds %d files after a duplicate Put", n)
	}
}

func TestConcurrentPutsSpanningPacks(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 256<<10)
	const workers, perWorker = 8, 40
	blobs := make([][][]byte, workers)
	var wg sync.WaitGroup
	for w := range workers {
		r := rand.New(rand.NewPCG(uint64(w), 9))
		for range perWorker {
			blobs[w] = append(blobs[w], randomBlob(r, 8<<10+r.IntN(24<<10)))
		}
		// Every worker also stores blobs shared with the others.
		for i := range 5 {
			blobs[w] = append(blobs[w], []byte(fmt.Sprintf("shared blob %d", i)))
		}
	}
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, b := range blobs[w] {
				if _, err := s.Put(ctx, blob.Chunk, blob.Sum(b), b); err != nil {
					errs <- err
					return
				}
				if _, err := s.Get(ctx, blob.Sum(b), nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for w := range workers {
		for _, b := range blobs[w] {
			mustGet(t, s, blob.Sum(b), b)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(workers*perWorker + 5); st.Blobs != want {
		t.Fatalf("%d blobs indexed, want %d", st.Blobs, want)
	}
	if st.Packs < 4 {
		t.Fatalf("only %d packs for %d bytes with 256 KiB packs", st.Packs, st.StoredBytes)
	}
	rep, err := s.Verify(ctx, VerifyOptions{ReadData: true})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}

func TestCloseWithoutFlushDiscards(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	r := rand.New(rand.NewPCG(5, 6))
	kept := mustPut(t, s, randomBlob(r, 1000))
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	lost := mustPut(t, s, randomBlob(r, 1000))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	if ok, _ := s.Has(ctx, kept); !ok {
		t.Fatal("flushed blob missing after reopen")
	}
	if ok, _ := s.Has(ctx, lost); ok {
		t.Fatal("unflushed blob present after reopen")
	}
	if names := tmpEntries(t, dir); len(names) != 0 {
		t.Fatalf("tmp leftovers: %v", names)
	}
}

func TestOpenRemovesTmpLeftovers(t *testing.T) {
	s, dir := newTestStore(t, 1<<20)
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, "tmp", "pack-123"), []byte("half a pack"), 0o600); err != nil {
		t.Fatal(err)
	}
	openTestStore(t, dir)
	if names := tmpEntries(t, dir); len(names) != 0 {
		t.Fatalf("tmp leftovers after open: %v", names)
	}
}

func TestCompression(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<20)
	r := rand.New(rand.NewPCG(7, 8))
	tests := []struct {
		name           string
		data           []byte
		wantCompressed bool
	}{
		{"compressible", compressibleBlob(r, 64<<10), true},
		{"random", randomBlob(r, 64<<10), false},
		{"random small", randomBlob(r, 5000), false},
		{"zeros small", make([]byte, 3000), true},
	}
	for _, tc := range tests {
		id := mustPut(t, s, tc.data)
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		loc, err := s.Lookup(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if loc.Compressed != tc.wantCompressed {
			t.Errorf("%s: compressed=%v, want %v", tc.name, loc.Compressed, tc.wantCompressed)
		}
		if tc.wantCompressed && loc.Stored >= loc.Raw {
			t.Errorf("%s: stored %d >= raw %d", tc.name, loc.Stored, loc.Raw)
		}
		if !tc.wantCompressed && loc.Stored != loc.Raw {
			t.Errorf("%s: stored %d != raw %d", tc.name, loc.Stored, loc.Raw)
		}
		mustGet(t, s, id, tc.data)
	}
}

func TestLocked(t *testing.T) {
	_, dir := newTestStore(t, 1<<20)
	_, err := Open(context.Background(), dir, Options{})
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Open = %v, want *LockedError", err)
	}
	if le.PID != os.Getpid() || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("LockedError %v does not name pid %d", err, os.Getpid())
	}
}
