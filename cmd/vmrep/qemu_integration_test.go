package main

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/qmp"
	"github.com/vmrep/vmrep/internal/testqsd"
)

// A VG whose boot disk a qemu-storage-daemon serves over NBD, with QMP:
// the first snapshot reads it whole, the next only what its dirty bitmap
// marks, snapshot show says so, and a removed bitmap gives a full read.
func TestQEMUSourceCLI(t *testing.T) {
	d := newDaemon(t)
	img := filepath.Join(t.TempDir(), "vm.qcow2")
	testqsd.Image(t, img, 32<<20)
	q := testqsd.Start(t, img, "boot")
	ctx := context.Background()
	c := q.Dial(ctx)
	defer c.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	writeRandom := func(n int, at int64) {
		buf := make([]byte, 64<<10)
		for i := range n {
			for k := range buf {
				buf[k] = byte(rng.Uint32())
			}
			if _, err := c.WriteAt(buf, at+int64(i)*(1<<20)); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	writeRandom(16, 0)

	if r := d.vmrep("vg", "create", "vm", "--boot", "/tmp/none.img", "--qmp", q.QMPSock); r.code != 1 {
		t.Errorf("--qmp without an NBD volume: %+v", r)
	}
	if r := d.vmrep("vg", "create", "vm", "--boot", "nbd+unix:///boot?socket=/nonexistent.sock"); r.code != 1 ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "nonexistent.sock") {
		t.Errorf("unreachable NBD server: %+v", r)
	}
	var vg api.VG
	d.okJSON(&vg, "vg", "create", "vm", "--boot", q.URI(), "--qmp", q.QMPSock)
	if v := vg.Volumes[0]; v.Format != "nbd" || v.QMP != q.QMPSock || v.Size != 32<<20 {
		t.Fatalf("vg create: %+v", v)
	}

	var s1, s2, s3 api.Snapshot
	d.okJSONResult(&s1, "snapshot", "create", "vm")
	if v := s1.Volumes[0]; v.ReadNote != "first snapshot: full read" || v.DirtyBitmap == "" {
		t.Fatalf("first snapshot: %+v", v)
	}
	writeRandom(4, 512<<10)
	d.okJSONResult(&s2, "snapshot", "create", "vm")
	if v := s2.Volumes[0]; !strings.Contains(v.ReadNote, "dirty bitmap "+s1.Volumes[0].DirtyBitmap+": 4 changed ranges") ||
		v.ReadBytes > 3*(4*64<<10) {
		t.Fatalf("second snapshot: %+v", v)
	}
	if out := d.ok("snapshot", "show", "vm@2"); !strings.Contains(out, "boot: read ") || !strings.Contains(out, "changed ranges") {
		t.Errorf("snapshot show:\n%s", out)
	}
	compareExport(t, d, q, "vm@2")

	// A QMP socket serves one client at a time: close before vmrep asks.
	qc, err := qmp.Dial(ctx, q.QMPSock)
	if err != nil {
		t.Fatal(err)
	}
	err = qc.Execute(ctx, "block-dirty-bitmap-remove", map[string]any{"node": "disk0", "name": s2.Volumes[0].DirtyBitmap}, nil)
	qc.Close()
	if err != nil {
		t.Fatal(err)
	}
	writeRandom(2, 8<<20)
	d.okJSONResult(&s3, "snapshot", "create", "vm")
	if v := s3.Volumes[0]; v.ReadNote != "dirty bitmap "+s2.Volumes[0].DirtyBitmap+" missing: full read" || v.ReadBytes < s1.Volumes[0].ReadBytes {
		t.Fatalf("snapshot after the bitmap was removed: %+v", v)
	}
	compareExport(t, d, q, "vm@3")
}

// compareExport restores ref's boot volume and compares it with the
// export's bytes now.
func compareExport(t *testing.T, d *testDaemon, q *testqsd.Daemon, ref string) {
	t.Helper()
	dir := t.TempDir()
	got, want := filepath.Join(dir, "got.raw"), filepath.Join(dir, "want.raw")
	d.ok("restore", ref, "--volume", "boot", "-o", got)
	c := q.Dial(context.Background())
	defer c.Close()
	f, err := os.Create(want)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, io.NewSectionReader(c, 0, c.Size())); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sameFile(t, got, want)
}
