package cas

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

func TestWriterAbortDiscards(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<30)
	r := rand.New(rand.NewPCG(1, 2))
	keptData := randomBlob(r, 1000)
	kept := mustPut(t, s, keptData)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Stats(ctx)

	w := s.NewWriter()
	data := randomBlob(r, 5000)
	id := blob.Sum(data)
	if _, err := w.Put(ctx, blob.Chunk, id, data); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(ctx, id); ok {
		t.Fatal("an aborted writer's blob is still in the store")
	}
	after, _ := s.Stats(ctx)
	if after != before {
		t.Fatalf("abort changed the store: %+v, was %+v", after, before)
	}
	if left := tmpEntries(t, dir); len(left) != 0 {
		t.Fatalf("abort left %v in tmp/", left)
	}
	mustGet(t, s, kept, keptData)
}

// A blob another writer deduplicated against survives the first writer's
// Abort: the other writer's snapshot will name it.
func TestWriterAbortKeepsSharedBlobs(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<30)
	r := rand.New(rand.NewPCG(3, 4))
	a, b := s.NewWriter(), s.NewWriter()
	data := randomBlob(r, 4000)
	id := blob.Sum(data)
	if stored, err := a.Put(ctx, blob.Chunk, id, data); err != nil || !stored {
		t.Fatalf("a.Put = %v, %v", stored, err)
	}
	if stored, err := b.Put(ctx, blob.Chunk, id, data); err != nil || stored {
		t.Fatalf("b.Put of the same blob = %v, %v; want a dedup", stored, err)
	}
	if err := a.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b.Close()
	mustGet(t, s, id, data)
	if _, err := s.Lookup(ctx, id); err != nil {
		t.Fatalf("shared blob not indexed after flush: %v", err)
	}
}

// Flush through one writer makes every writer's blobs durable.
func TestWriterFlushSealsAll(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<30)
	r := rand.New(rand.NewPCG(5, 6))
	a, b := s.NewWriter(), s.NewWriter()
	da, db := randomBlob(r, 3000), randomBlob(r, 3000)
	a.Put(ctx, blob.Chunk, blob.Sum(da), da)
	b.Put(ctx, blob.Chunk, blob.Sum(db), db)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []blob.ID{blob.Sum(da), blob.Sum(db)} {
		if _, err := s.Lookup(ctx, id); err != nil {
			t.Errorf("%s not indexed after Flush: %v", id.Short(), err)
		}
	}
	a.Close()
	b.Close()
}

// A write error that loses a pack another writer deduplicated against must
// not let that writer's Flush report success: its snapshot would name a
// blob that is gone.
func TestWriteErrorOnSharedPackFailsFlush(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<30)
	r := rand.New(rand.NewPCG(5, 6))
	a, b := s.NewWriter(), s.NewWriter()
	x := randomBlob(r, 3000)
	if _, err := a.Put(ctx, blob.Chunk, blob.Sum(x), x); err != nil {
		t.Fatal(err)
	}
	if isNew, err := b.Put(ctx, blob.Chunk, blob.Sum(x), x); err != nil || isNew {
		t.Fatalf("second put of the same blob: new %v, err %v", isNew, err)
	}
	s.mu.Lock()
	a.cur.wf.Close() // the next append to a's pack fails
	s.mu.Unlock()
	y := randomBlob(r, 3000)
	if _, err := a.Put(ctx, blob.Chunk, blob.Sum(y), y); err == nil {
		t.Fatal("put into a closed temp pack succeeded")
	}
	if err := b.Flush(ctx); err == nil {
		t.Fatal("flush succeeded though the blob it deduplicated against was lost")
	}
	if ok, _ := s.Has(ctx, blob.Sum(x)); ok {
		t.Fatal("the lost blob is reported present")
	}
}

// The same error on a pack nobody else uses fails only the writer's Put.
func TestWriteErrorOnOwnPackKeepsStore(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<30)
	r := rand.New(rand.NewPCG(7, 8))
	a := s.NewWriter()
	x := randomBlob(r, 3000)
	if _, err := a.Put(ctx, blob.Chunk, blob.Sum(x), x); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	a.cur.wf.Close()
	s.mu.Unlock()
	if _, err := a.Put(ctx, blob.Chunk, blob.Sum(x[:100]), x[:100]); err == nil {
		t.Fatal("put into a closed temp pack succeeded")
	}
	b := s.NewWriter()
	z := randomBlob(r, 2000)
	mustPutW(t, b, z)
	if err := b.Flush(ctx); err != nil {
		t.Fatalf("a write error in another writer's own pack failed this flush: %v", err)
	}
	mustGet(t, s, blob.Sum(z), z)
}

func mustPutW(t *testing.T, w *Writer, data []byte) {
	t.Helper()
	if _, err := w.Put(context.Background(), blob.Chunk, blob.Sum(data), data); err != nil {
		t.Fatal(err)
	}
}

// StoredBytes counts each new blob once, as stored, and nothing for blobs
// the store already had.
func TestWriterStoredBytes(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<30)
	r := rand.New(rand.NewPCG(5, 6))
	old := randomBlob(r, 20000)
	mustPut(t, s, old)
	w := s.NewWriter()
	defer w.Close()
	text := make([]byte, 50000) // compresses well
	for i := range text {
		text[i] = "abcdefgh"[i%8]
	}
	rnd := randomBlob(r, 30000)
	for _, b := range [][]byte{old, text, rnd, text} {
		mustPutW(t, w, b)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, b := range [][]byte{text, rnd} {
		loc, err := s.Lookup(ctx, blob.Sum(b))
		if err != nil {
			t.Fatal(err)
		}
		want += int64(loc.Stored)
	}
	if got := w.StoredBytes(); got != want || got >= 80000 {
		t.Fatalf("StoredBytes = %d, want %d (the new blobs, compressed)", got, want)
	}
}
