package castest_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas/castest"
)

func TestMemStore(t *testing.T) {
	ctx := context.Background()
	a, b := []byte("first blob"), []byte("second blob")
	tests := []struct {
		name string
		run  func(t *testing.T, m *castest.MemStore)
	}{
		{"PutGet", func(t *testing.T, m *castest.MemStore) {
			mustPut(t, m, a, true)
			got, err := m.Get(ctx, blob.Sum(a), make([]byte, 3))
			if err != nil || !bytes.Equal(got, a) {
				t.Fatalf("get: %q, %v", got, err)
			}
			if ok, err := m.Has(ctx, blob.Sum(a)); !ok || err != nil {
				t.Fatalf("has: %v, %v", ok, err)
			}
		}},
		{"Counts", func(t *testing.T, m *castest.MemStore) {
			mustPut(t, m, a, true)
			mustPut(t, m, a, false)
			mustPut(t, m, b, true)
			if m.Puts() != 3 || m.Stored() != 2 || m.Len() != 2 {
				t.Fatalf("puts %d stored %d len %d, want 3 2 2", m.Puts(), m.Stored(), m.Len())
			}
		}},
		{"WrongID", func(t *testing.T, m *castest.MemStore) {
			_, err := m.Put(ctx, blob.Chunk, blob.Sum(b), a)
			if !errors.Is(err, blob.ErrCorrupt) {
				t.Fatalf("put under the wrong id: %v, want ErrCorrupt", err)
			}
			if m.Len() != 0 || m.Puts() != 0 {
				t.Fatalf("a refused blob was kept or counted")
			}
		}},
		{"TooLarge", func(t *testing.T, m *castest.MemStore) {
			big := make([]byte, blob.MaxSize+1)
			if _, err := m.Put(ctx, blob.Chunk, blob.Sum(big), big); err == nil {
				t.Fatal("a blob over MaxBlobSize was accepted")
			}
		}},
		{"Missing", func(t *testing.T, m *castest.MemStore) {
			mustPut(t, m, a, true)
			m.Remove(blob.Sum(a))
			if _, err := m.Get(ctx, blob.Sum(a), nil); !errors.Is(err, blob.ErrNotFound) {
				t.Fatalf("get removed blob: %v, want ErrNotFound", err)
			}
		}},
		{"Corrupt", func(t *testing.T, m *castest.MemStore) {
			mustPut(t, m, a, true)
			if !m.Corrupt(blob.Sum(a)) {
				t.Fatal("corrupt found no blob")
			}
			if _, err := m.Get(ctx, blob.Sum(a), nil); !errors.Is(err, blob.ErrCorrupt) {
				t.Fatalf("get damaged blob: %v, want ErrCorrupt", err)
			}
		}},
		{"All", func(t *testing.T, m *castest.MemStore) {
			mustPut(t, m, a, true)
			mustPut(t, m, b, true)
			seen := map[blob.ID]bool{}
			for id, data := range m.All() {
				if blob.Sum(data) != id {
					t.Errorf("all: %s yields data of another id", id.Short())
				}
				seen[id] = true
			}
			if len(seen) != 2 {
				t.Fatalf("all yielded %d blobs, want 2", len(seen))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, castest.NewMemStore()) })
	}
}

func mustPut(t *testing.T, m *castest.MemStore, data []byte, wantNew bool) {
	t.Helper()
	stored, err := m.Put(context.Background(), blob.Chunk, blob.Sum(data), data)
	if err != nil || stored != wantNew {
		t.Fatalf("put %q: stored %v, %v; want stored %v", data, stored, err, wantNew)
	}
}
