package source_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// TestQcow2TopAllocated: the top layer of an overlay reports exactly the
// clusters written through it, and its backing path.
func TestQcow2TopAllocated(t *testing.T) {
	testdisk.Need(t, "qemu-img", "qemu-io")
	ctx := context.Background()
	dir := t.TempDir()
	base, top := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "top.qcow2")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("qemu-img", "create", "-q", "-f", "qcow2", base, "16M")
	run("qemu-io", "-c", "write -P 0x11 0 4M", base)
	run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
	run("qemu-io", "-c", "write -P 0x22 1M 64k", "-c", "write -z 8M 128k", "-c", "write -P 0x33 15M 10", top)
	r, err := source.Open(ctx, top)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, ok := r.(source.Layered)
	if !ok {
		t.Fatalf("%T is not Layered", r)
	}
	if got, _ := filepath.EvalSymlinks(l.Backing()); got != base {
		if abs, _ := filepath.Abs(l.Backing()); abs != base {
			t.Errorf("Backing() = %q, want %q", l.Backing(), base)
		}
	}
	var got []source.Range
	if err := l.TopAllocated(ctx, func(r source.Range) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []source.Range{{Off: 1 << 20, Len: 64 << 10}, {Off: 8 << 20, Len: 128 << 10}, {Off: 15 << 20, Len: 64 << 10}}
	if len(got) != len(want) {
		t.Fatalf("TopAllocated = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("range %d = %v, want %v", i, got[i], want[i])
		}
	}
	st, err := r.(source.Stater).FileState()
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(top)
	if want, _ := source.StateOf(fi); st != want {
		t.Errorf("FileState %+v, want %+v", st, want)
	}
}
