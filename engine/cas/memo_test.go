package cas

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestMemo(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<20)
	if err := s.MemoPut([][2][]byte{{[]byte("seal/a"), []byte("one")}, {[]byte("seal/b"), []byte("two")}}); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.MemoGet([]byte("seal/a"), nil); err != nil || !ok || !bytes.Equal(v, []byte("one")) {
		t.Fatalf("get a: %q %v %v", v, ok, err)
	}
	if err := s.MemoPut([][2][]byte{{[]byte("seal/a"), nil}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.MemoGet([]byte("seal/a"), nil); err != nil || ok {
		t.Fatalf("deleted entry: %v %v", ok, err)
	}
	for _, k := range [][]byte{nil, []byte(strings.Repeat("k", 257))} {
		if err := s.MemoPut([][2][]byte{{k, []byte("x")}}); err == nil {
			t.Errorf("memo key of %d bytes taken", len(k))
		}
	}
	// A memo is a cache: a rebuilt index forgets it, and nothing else.
	if err := s.RebuildIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.MemoGet([]byte("seal/b"), nil); err != nil || ok {
		t.Fatalf("memo after a rebuild: %v %v", ok, err)
	}
}
