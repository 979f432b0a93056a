package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/internal/testdisk"
)

// packFiles lists the store's pack files.
func packFiles(t *testing.T, store string) []string {
	t.Helper()
	packs, err := filepath.Glob(filepath.Join(store, "packs", "*", "*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(packs)
	return packs
}

// TestFlippedRecordThenGC replays an attack: one bit flipped in a VG's
// record file while the daemon is stopped, then gc. Before, the daemon
// dropped the index's intact copy at start, the VG vanished, and gc deleted
// every pack of it. Now a flip in the record's data is repaired from the
// index's copy, and a flip that cannot be repaired (in the header, with the
// index lost) makes gc refuse and restore name the damage.
func TestFlippedRecordThenGC(t *testing.T) {
	d := newDaemon(t)
	boot, _ := d.makeVG("web", 8<<20, 21)
	d.ok("snapshot", "create", "web")
	saved := filepath.Join(d.dir, "boot-1.img")
	copyFile(t, boot, saved)
	writeImage(t, boot, 8<<20, 22)
	d.ok("snapshot", "create", "web")
	recs, _ := filepath.Glob(filepath.Join(d.store, "records", "vgs", "*"))
	if len(recs) != 1 {
		t.Fatalf("VG record files %v, want one", recs)
	}

	d.stop()
	testdisk.FlipByte(t, recs[0], 60)
	d.start()
	if out := d.ok("vg", "list"); !strings.Contains(out, "web") {
		t.Fatalf("vg list after a flipped bit in the VG record:\n%s", out)
	}
	if out := d.ok("verify"); !strings.Contains(out, "no problems") {
		t.Fatalf("verify after the record was repaired:\n%s", out)
	}
	d.ok("gc")
	out := filepath.Join(d.dir, "restored.img")
	d.ok("restore", "web@1", "--volume", "boot", "-o", out)
	sameFile(t, saved, out)

	d.stop()
	testdisk.FlipByte(t, recs[0], 20) // the header's hash: beyond repair
	if err := os.RemoveAll(filepath.Join(d.store, "index")); err != nil {
		t.Fatal(err)
	}
	d.start()
	before := packFiles(t, d.store)
	r := d.vmrep("gc")
	if r.code != 1 || !strings.Contains(r.stderr, "damaged") || !strings.Contains(r.stderr, filepath.Base(recs[0])) {
		t.Fatalf("gc with a damaged VG record: exit %d, stderr %q; want a refusal naming the file", r.code, r.stderr)
	}
	if after := packFiles(t, d.store); !slices.Equal(before, after) {
		t.Fatalf("a refused gc changed the packs: %d -> %d", len(before), len(after))
	}
	r = d.vmrep("restore", "web@1", "--volume", "boot", "-o", filepath.Join(d.dir, "again.img"))
	if r.code == 0 || !strings.Contains(r.stderr, "damaged record") {
		t.Fatalf("restore from a VG whose record is damaged: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := d.vmrep("verify"); r.code == 0 || !strings.Contains(r.stdout+r.stderr, filepath.Base(recs[0])) {
		t.Fatalf("verify does not name the damaged record: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
