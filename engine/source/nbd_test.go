package source

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/internal/testqsd"
)

// An NBD URI opens as a Reader over the export: its bytes, and only the
// ranges the image allocates reported as data.
func TestOpenNBD(t *testing.T) {
	img := filepath.Join(t.TempDir(), "d.qcow2")
	testqsd.Image(t, img, 16<<20)
	q := testqsd.Start(t, img, "boot")
	ctx := context.Background()
	c := q.Dial(ctx)
	data := bytes.Repeat([]byte("vmrep nbd "), 13107) // 131070 bytes
	if _, err := c.WriteAt(data, 3<<20); err != nil {
		t.Fatal(err)
	}
	c.Flush()
	c.Close()

	r, err := Open(ctx, q.URI())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != 16<<20 || r.Format() != "nbd" {
		t.Fatalf("size %d format %s", r.Size(), r.Format())
	}
	got := make([]byte, len(data)+10)
	if _, err := r.ReadAt(got, 3<<20-5); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[5:5+len(data)], data) || !bytes.Equal(got[:5], make([]byte, 5)) {
		t.Fatal("read back other bytes than written")
	}
	var alloc []Range
	if err := r.Allocated(ctx, func(rg Range) error { alloc = append(alloc, rg); return nil }); err != nil {
		t.Fatal(err)
	}
	// qcow2 clusters are 64 KiB: the write allocates the two at 3 MiB.
	if len(alloc) != 1 || alloc[0] != (Range{Off: 3 << 20, Len: 128 << 10}) {
		t.Fatalf("allocated %v", alloc)
	}
	if _, err := Open(ctx, "nbd+unix:///nosuch?socket="+q.NBDSock); err == nil {
		t.Fatal("unknown export opened")
	}
}
