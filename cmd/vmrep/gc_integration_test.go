package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

func TestGCCommand(t *testing.T) {
	d := newDaemon(t)
	boot, _ := d.makeVG("web", 8<<20, 11)
	d.ok("snapshot", "create", "web")
	saved := filepath.Join(d.dir, "boot-2.img")
	writeImage(t, boot, 8<<20, 99) // new content: snapshot 1's chunks die with it
	copyFile(t, boot, saved)
	d.ok("snapshot", "create", "web")

	if out := d.ok("gc", "--dry-run"); !strings.Contains(out, "2 snapshots refer to") || !strings.Contains(out, "nothing deleted") {
		t.Fatalf("gc --dry-run:\n%s", out)
	}
	d.ok("snapshot", "delete", "web@1")
	var res api.GCResult
	d.okJSONResult(&res, "gc")
	if res.Snapshots != 1 || res.BlobsDeleted == 0 || res.BytesFreed < 3<<20 {
		t.Fatalf("gc after deleting web@1: %+v", res)
	}
	out := filepath.Join(d.dir, "restored.img")
	d.ok("restore", "web@2", "--volume", "boot", "-o", out)
	sameFile(t, saved, out)
	if out := d.ok("verify", "--read-data"); !strings.Contains(out, "no problems") {
		t.Fatalf("verify after gc:\n%s", out)
	}
	if out := d.ok("gc", "--help"); !strings.Contains(out, "Examples:") {
		t.Fatalf("gc --help has no examples:\n%s", out)
	}
}
