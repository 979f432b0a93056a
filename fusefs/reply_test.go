package fusefs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

// TestReadReply: a reply holds its chunks until Done, even once evicted,
// and reads as the chunk parts and zeros in order.
func TestReadReply(t *testing.T) {
	ctx := context.Background()
	c := newChunkCache(4 << 10)
	load := func(fill byte) loadFunc {
		return func(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) {
			// Like cas Get: decode into the buffer handed over.
			return append(buf[:0], bytes.Repeat([]byte{fill}, 4<<10)...), nil
		}
	}
	a := must(c.get(ctx, blob.Sum([]byte("a")), load('a')))
	r := newReadReply(c)
	r.chunk(a, a.data[100:200])
	r.zero(len(zeros) + 10) // more zeros than one slice of them
	r.chunk(a, a.data[:5])
	// The second part takes a second reference, as a second get would.
	a.refs++
	// Loading b evicts a, which the reply still points into.
	c.release(must(c.get(ctx, blob.Sum([]byte("b")), load('b'))))
	if len(c.mu.free) != 0 {
		t.Fatalf("a chunk in a reply was recycled before Done")
	}

	want := append(append(bytes.Repeat([]byte{'a'}, 100), make([]byte, len(zeros)+10)...), "aaaaa"...)
	if r.Size() != len(want) {
		t.Errorf("Size %d, want %d", r.Size(), len(want))
	}
	got, st := r.Bytes(nil)
	if !st.Ok() || !bytes.Equal(got, want) {
		t.Errorf("Bytes: %d bytes (%v), want %d", len(got), st, len(want))
	}
	vecs, _ := r.Slices()
	if joined := bytes.Join(vecs, nil); !bytes.Equal(joined, want) {
		t.Errorf("Slices join to %d bytes, want the same as Bytes", len(joined))
	}
	r.Done()
	if len(c.mu.free) != 1 || a.refs != 0 {
		t.Fatalf("Done left a held: %d refs, %d free buffers", a.refs, len(c.mu.free))
	}
}

// TestKernelReadAhead: Mount sets the kernel read-ahead of its mount, and
// leaves it alone when told to.
func TestKernelReadAhead(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name string
		kb   int
		want int
	}{
		{"default", 0, DefaultKernelReadAhead},
		{"explicit", 4096, 4096},
		{"kernel's own", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := f.mount(t, Options{KernelReadAhead: tc.kb})
			dev, _, found, err := mountAt(m.Dir())
			if err != nil || !found {
				t.Fatalf("mount not in mountinfo: %v", err)
			}
			raw, err := os.ReadFile(filepath.Join("/sys/class/bdi", dev, "read_ahead_kb"))
			if err != nil {
				t.Skipf("no read-ahead knob: %v", err)
			}
			got, err := strconv.Atoi(strings.TrimSpace(string(raw)))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == 0 && got == DefaultKernelReadAhead || tc.want != 0 && got != tc.want {
				t.Errorf("read_ahead_kb %d, want %d (0: the kernel's own)", got, tc.want)
			}
		})
	}
}
