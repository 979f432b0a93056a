package castest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sort"
	"sync"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
)

// NewBackend returns an empty backend for one subtest; cleanup belongs to t.
type NewBackend func(t *testing.T) cas.Backend

// RunBackend checks the cas.Backend contract against fresh backends.
func RunBackend(t *testing.T, newBackend NewBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, be cas.Backend)
	}{
		{"PutListRead", testPutListRead},
		{"ReadRanges", testReadRanges},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"BadNames", testBadNames},
		{"Config", testConfig},
		{"ConcurrentReads", testConcurrentReads},
		{"Large", testLarge},
		{"Canceled", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend(t)) })
	}
}

// RandomBytes returns n random bytes.
func RandomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// RandomPackName returns a well-formed pack name; backends do not check
// that it is the footer's hash.
func RandomPackName(t testing.TB) string {
	return hex.EncodeToString(RandomBytes(t, 32))
}

// PutBytes stores data under h through a temp file, as the store does, and
// checks that Put took the temp file away.
func PutBytes(t testing.TB, be cas.Backend, h cas.Handle, data []byte) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "put-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := be.Put(context.Background(), h, f); err != nil {
		t.Fatalf("put %s: %v", h, err)
	}
	if _, err := os.Stat(f.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("put %s left its temp file %s behind (stat: %v)", h, f.Name(), err)
	}
}

func listAll(t *testing.T, be cas.Backend, kind cas.FileKind) map[string]int64 {
	t.Helper()
	got := make(map[string]int64)
	var mu sync.Mutex
	err := be.List(context.Background(), kind, func(name string, size int64) error {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := got[name]; dup {
			t.Errorf("list %s: %s reported twice", kind, name)
		}
		got[name] = size
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", kind, err)
	}
	return got
}

func readAll(t *testing.T, be cas.Backend, h cas.Handle, size int) []byte {
	t.Helper()
	p := make([]byte, size)
	if err := be.ReadAt(context.Background(), h, p, 0); err != nil {
		t.Fatalf("read %s: %v", h, err)
	}
	return p
}

func testPutListRead(t *testing.T, be cas.Backend) {
	want := map[cas.Handle][]byte{}
	for _, n := range []int{1, 100, 4096, 70000} {
		want[cas.Handle{Kind: cas.FilePack, Name: RandomPackName(t)}] = RandomBytes(t, n)
	}
	want[cas.Handle{Kind: cas.FileRecord, Name: "vgs/vg-one"}] = RandomBytes(t, 200)
	want[cas.Handle{Kind: cas.FileRecord, Name: "snapshots/vg-one.1"}] = RandomBytes(t, 300)
	for h, data := range want {
		PutBytes(t, be, h, data)
	}
	for _, kind := range []cas.FileKind{cas.FilePack, cas.FileRecord} {
		got := listAll(t, be, kind)
		var wantNames []string
		for h, data := range want {
			if h.Kind != kind {
				continue
			}
			wantNames = append(wantNames, h.Name)
			if got[h.Name] != int64(len(data)) {
				t.Errorf("list %s: %s has size %d, want %d", kind, h.Name, got[h.Name], len(data))
			}
		}
		if len(got) != len(wantNames) {
			t.Errorf("list %s: got %d names %v, want %d", kind, len(got), sortedKeys(got), len(wantNames))
		}
	}
	if got := listAll(t, be, cas.FileConfig); len(got) != 0 {
		t.Errorf("list config: got %v before any config was put", got)
	}
	for h, data := range want {
		if got := readAll(t, be, h, len(data)); !bytes.Equal(got, data) {
			t.Errorf("read %s: content differs from what was put", h)
		}
	}
}

func sortedKeys(m map[string]int64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func testReadRanges(t *testing.T, be cas.Backend) {
	const size = 100000
	data := RandomBytes(t, size)
	h := cas.Handle{Kind: cas.FilePack, Name: RandomPackName(t)}
	PutBytes(t, be, h, data)
	tests := []struct {
		name    string
		off, n  int64
		wantErr bool
	}{
		{"whole", 0, size, false},
		{"head", 0, 16, false},
		{"middle", 12345, 4321, false},
		{"last byte", size - 1, 1, false},
		{"tail", size - 36, 36, false},
		{"straddles end", size - 10, 20, true},
		{"past end", size + 10, 5, true},
		{"one past end", size, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := make([]byte, tc.n)
			err := be.ReadAt(context.Background(), h, p, tc.off)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("read %d bytes at %d of a %d-byte file: no error", tc.n, tc.off, size)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p, data[tc.off:tc.off+tc.n]) {
				t.Fatal("range content differs")
			}
		})
	}
}

func testMissing(t *testing.T, be cas.Backend) {
	for _, h := range []cas.Handle{
		{Kind: cas.FilePack, Name: RandomPackName(t)},
		{Kind: cas.FileRecord, Name: "vgs/vg-missing"},
		{Kind: cas.FileConfig, Name: "config"},
	} {
		err := be.ReadAt(context.Background(), h, make([]byte, 10), 0)
		if !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("read missing %s: got %v, want an error matching blob.ErrNotFound", h, err)
		}
	}
}

func testDelete(t *testing.T, be cas.Backend) {
	keep := cas.Handle{Kind: cas.FilePack, Name: RandomPackName(t)}
	gone := cas.Handle{Kind: cas.FilePack, Name: RandomPackName(t)}
	rec := cas.Handle{Kind: cas.FileRecord, Name: "snapshots/vg-x.3"}
	for _, h := range []cas.Handle{keep, gone, rec} {
		PutBytes(t, be, h, RandomBytes(t, 1000))
	}
	// Read first so that a backend caching open files must drop the entry.
	readAll(t, be, gone, 1000)
	ctx := context.Background()
	for _, h := range []cas.Handle{gone, rec} {
		if err := be.Delete(ctx, h); err != nil {
			t.Fatalf("delete %s: %v", h, err)
		}
		if err := be.Delete(ctx, h); err != nil {
			t.Fatalf("delete %s again: %v", h, err)
		}
		if err := be.ReadAt(ctx, h, make([]byte, 1), 0); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("read deleted %s: got %v, want blob.ErrNotFound", h, err)
		}
	}
	if got := listAll(t, be, cas.FilePack); len(got) != 1 || got[keep.Name] != 1000 {
		t.Errorf("packs after delete: %v, want only %s", got, keep.Name)
	}
	if got := listAll(t, be, cas.FileRecord); len(got) != 0 {
		t.Errorf("records after delete: %v, want none", got)
	}
}

func testBadNames(t *testing.T, be cas.Backend) {
	for _, h := range []cas.Handle{
		{Kind: cas.FilePack, Name: "short"},
		{Kind: cas.FilePack, Name: "../" + RandomPackName(t)[3:]},
		{Kind: cas.FileRecord, Name: "other/x"},
		{Kind: cas.FileRecord, Name: "vgs"},
		{Kind: cas.FileConfig, Name: "settings"},
		{Kind: 99, Name: "x"},
	} {
		f, err := os.CreateTemp(t.TempDir(), "bad-*")
		if err != nil {
			t.Fatal(err)
		}
		if err := be.Put(context.Background(), h, f); err == nil {
			t.Errorf("put %q: no error", h)
		}
		if err := be.ReadAt(context.Background(), h, make([]byte, 1), 0); err == nil {
			t.Errorf("read %q: no error", h)
		}
	}
}

func testConfig(t *testing.T, be cas.Backend) {
	h := cas.Handle{Kind: cas.FileConfig, Name: "config"}
	data := []byte(`{"version":1}` + "\n")
	PutBytes(t, be, h, data)
	got := listAll(t, be, cas.FileConfig)
	if len(got) != 1 || got["config"] != int64(len(data)) {
		t.Fatalf("list config: %v", got)
	}
	if !bytes.Equal(readAll(t, be, h, len(data)), data) {
		t.Fatal("config content differs")
	}
	if packs := listAll(t, be, cas.FilePack); len(packs) != 0 {
		t.Fatalf("the config shows up among packs: %v", packs)
	}
}
