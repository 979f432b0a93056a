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
	if err := s.MemoPut([][2][]byte{{[]byte("seal/x/1"), []byte("1")}, {[]byte("seal/x/2"), []byte("2")}, {[]byte("seal/y/1"), []byte("3")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.MemoDeletePrefix([]byte("seal/x/")); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{"seal/x/1": false, "seal/x/2": false, "seal/y/1": true, "seal/b": true} {
		if _, ok, err := s.MemoGet([]byte(k), nil); err != nil || ok != want {
			t.Errorf("%s after deleting seal/x/: present %v, want %v (%v)", k, ok, want, err)
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
