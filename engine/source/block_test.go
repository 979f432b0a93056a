package source

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBlockDevice attaches the fixture's raw disk to a loop device.
func TestBlockDevice(t *testing.T) {
	fx := images(t)
	if os.Geteuid() != 0 {
		t.Skip("loop devices need root")
	}
	out, err := exec.Command("losetup", "--find", "--show", "--read-only", fx.images["raw"]).Output()
	if err != nil {
		t.Skipf("no loop device available: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	want, err := os.ReadFile(fx.images["raw"])
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), dev)
	if err != nil {
		t.Fatalf("Open(%s): %v", dev, err)
	}
	defer r.Close()
	if r.Format() != "block" || r.Size() != int64(len(want)) {
		t.Fatalf("Format %q Size %d, want block %d", r.Format(), r.Size(), len(want))
	}
	if !bytes.Equal(readAll(t, r, 4<<20), want) {
		t.Fatal("block device content differs from the file")
	}
	var ranges []Range
	r.Allocated(context.Background(), func(rg Range) error { ranges = append(ranges, rg); return nil })
	if len(ranges) != 1 || ranges[0] != (Range{0, int64(len(want))}) {
		t.Fatalf("Allocated = %v, want the whole device", ranges)
	}
}
