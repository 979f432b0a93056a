package testdisk

import (
	"os"
	"testing"
)

// FlipByte damages one byte of the file at path, at off, in place, as a
// bad disk would: tests use it to check that corruption is caught.
func FlipByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatalf("flip byte %d of %s: %v", off, path, err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatalf("flip byte %d of %s: %v", off, path, err)
	}
}
