package cas

import (
	"context"
	"math/rand/v2"
	"testing"
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
	id := Sum(data)
	if _, err := w.Put(ctx, BlobChunk, id, data); err != nil {
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
	id := Sum(data)
	if stored, err := a.Put(ctx, BlobChunk, id, data); err != nil || !stored {
		t.Fatalf("a.Put = %v, %v", stored, err)
	}
	if stored, err := b.Put(ctx, BlobChunk, id, data); err != nil || stored {
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
	a.Put(ctx, BlobChunk, Sum(da), da)
	b.Put(ctx, BlobChunk, Sum(db), db)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []ID{Sum(da), Sum(db)} {
		if _, err := s.Lookup(ctx, id); err != nil {
			t.Errorf("%s not indexed after Flush: %v", id.Short(), err)
		}
	}
	a.Close()
	b.Close()
}
