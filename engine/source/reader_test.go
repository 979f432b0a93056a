package source

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// qemuRaw converts an image to raw with qemu-img, the reference decoder.
func qemuRaw(t *testing.T, path string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ref.raw")
	run(t, "", "qemu-img", "convert", "-O", "raw", path, out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("read reference: %v", err)
	}
	return b
}

func readAll(t *testing.T, r Reader, bufSize int) []byte {
	t.Helper()
	got := make([]byte, r.Size())
	for off := int64(0); off < r.Size(); off += int64(bufSize) {
		end := min(off+int64(bufSize), r.Size())
		n, err := r.ReadAt(got[off:end], off)
		if n != int(end-off) || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", end-off, off, n, err)
		}
	}
	return got
}

func TestReadersMatchQemu(t *testing.T) {
	fx := images(t)
	formats := map[string]string{
		"raw": "raw", "qcow2": "qcow2", "qcow2-compressed": "qcow2", "qcow2-backing": "qcow2",
		"vmdk-sparse": "vmdk", "vmdk-stream": "vmdk", "vmdk-flat": "vmdk",
		"vhdx-dynamic": "vhdx", "vhdx-fixed": "vhdx",
	}
	for name, format := range formats {
		t.Run(name, func(t *testing.T) {
			path := fx.images[name]
			want := qemuRaw(t, path)
			r, err := Open(context.Background(), path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer r.Close()
			if r.Format() != format {
				t.Errorf("Format = %q, want %q", r.Format(), format)
			}
			if r.Size() != int64(len(want)) {
				t.Fatalf("Size = %d, want %d", r.Size(), len(want))
			}
			got := readAll(t, r, 4<<20)
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("content differs from qemu-img at byte %d", i)
			}
			checkAllocated(t, r, want)
			checkRandomReads(t, r, want)
			if name == "qcow2-backing" {
				checkUnallocated(t, r, Range{Off: 40 << 20, Len: 128 << 10})
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// checkAllocated proves ranges are ordered, within the volume, and that
// every byte outside them is zero.
func checkAllocated(t *testing.T, r Reader, want []byte) {
	t.Helper()
	var prev int64
	var covered int64
	err := r.Allocated(context.Background(), func(rg Range) error {
		if rg.Off < prev || rg.Len <= 0 || rg.Off+rg.Len > r.Size() {
			t.Fatalf("bad range %+v after offset %d (size %d)", rg, prev, r.Size())
		}
		for i, b := range want[prev:rg.Off] {
			if b != 0 {
				t.Fatalf("nonzero byte at %d outside allocated ranges", prev+int64(i))
			}
		}
		prev = rg.Off + rg.Len
		covered += rg.Len
		return nil
	})
	if err != nil {
		t.Fatalf("Allocated: %v", err)
	}
	for i, b := range want[prev:] {
		if b != 0 {
			t.Fatalf("nonzero byte at %d after the last allocated range", prev+int64(i))
		}
	}
	t.Logf("%s: %d of %d bytes allocated", r.Format(), covered, r.Size())
}

// checkRandomReads reads random spans from several goroutines at once.
func checkRandomReads(t *testing.T, r Reader, want []byte) {
	t.Helper()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range 50 {
				off := rng.Int64N(r.Size())
				n := rng.IntN(3<<20) + 1
				p := make([]byte, n)
				got, err := r.ReadAt(p, off)
				wantN := int(min(int64(n), r.Size()-off))
				if got != wantN || (got < n && err != io.EOF) || (got == n && err != nil && err != io.EOF) {
					t.Errorf("ReadAt(%d, %d) = %d, %v; want %d", n, off, got, err, wantN)
					return
				}
				if !bytes.Equal(p[:got], want[off:off+int64(got)]) {
					t.Errorf("ReadAt(%d, %d): wrong bytes", n, off)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// checkUnallocated proves no allocated range overlaps hole: a zero cluster
// in an overlay hides its backing data and must not be read.
func checkUnallocated(t *testing.T, r Reader, hole Range) {
	t.Helper()
	r.Allocated(context.Background(), func(rg Range) error {
		if rg.Off < hole.Off+hole.Len && hole.Off < rg.Off+rg.Len {
			t.Errorf("allocated %+v overlaps the zero range %+v", rg, hole)
		}
		return nil
	})
}
