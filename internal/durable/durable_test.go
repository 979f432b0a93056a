package durable

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := WriteFile(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two" {
		t.Fatalf("read back %q, %v", b, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only the file: %v", len(ents), ents)
	}
}

func TestWriteFileErrorNamesPathAndKeepsOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub")
	if err := os.Mkdir(p, 0o700); err != nil { // a directory cannot be renamed over
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "keep"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(p, []byte("new"), 0o600)
	if err == nil || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %v: want one line naming %s", err, p)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("a temporary file was left behind: %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(p, "keep")); string(b) != "x" {
		t.Error("the old content changed")
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

// Writeback is only a hint: whatever the writers do, the file must read
// back exactly as written, from any number of goroutines.
func TestWritebackConcurrentWriters(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "vol"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wb := NewWriteback(f)
	const part = 3 * WritebackEvery / 2
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			buf := bytes.Repeat([]byte{byte(w + 1)}, 1<<20)
			for off := int64(0); off < part; off += int64(len(buf)) {
				n, err := f.WriteAt(buf, int64(w)*part+off)
				if err != nil {
					t.Error(err)
					return
				}
				wb.Wrote(n)
			}
		})
	}
	wg.Wait()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	for w := range 4 {
		if !bytes.Equal(got[w*part:(w+1)*part], bytes.Repeat([]byte{byte(w + 1)}, part)) {
			t.Fatalf("writer %d's range reads back wrong", w)
		}
	}
	var nilWB *Writeback
	nilWB.Wrote(1 << 30) // a nil Writeback does nothing
}
