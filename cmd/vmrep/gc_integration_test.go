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

// gcReport is the part of a gc result the report test reads.
type gcReport struct {
	DryRun           bool  `json:"dry_run"`
	StoreBlobs       int64 `json:"store_blobs"`
	LiveBlobs        int64 `json:"live_blobs"`
	LiveBytes        int64 `json:"live_bytes"`
	DeadBlobs        int64 `json:"dead_blobs"`
	DeadBytes        int64 `json:"dead_bytes"`
	ReclaimableBytes int64 `json:"reclaimable_bytes"`
	StoreBytesBefore int64 `json:"store_bytes_before"`
	StoreBytesAfter  int64 `json:"store_bytes_after"`
	BytesFreed       int64 `json:"bytes_freed"`
	PacksDeleted     int   `json:"packs_deleted"`
}

func TestGCReportAndDryRun(t *testing.T) {
	d := newDaemon(t)
	// A small live volume beside a large one that dies: snapshot 1's
	// packs are mostly dead, so gc rewrites or deletes them.
	boot, data := filepath.Join(d.dir, "boot.img"), filepath.Join(d.dir, "data.img")
	writeImage(t, boot, 8<<20, 21)
	writeImage(t, data, 1<<20, 22)
	d.ok("vg", "create", "web", "--boot", boot, "--data", "db="+data)
	d.ok("snapshot", "create", "web")
	writeImage(t, boot, 8<<20, 77)
	d.ok("snapshot", "create", "web")
	d.ok("snapshot", "delete", "web@1")

	packs, records := filepath.Join(d.store, "packs"), filepath.Join(d.store, "records")
	before := treeHash(t, packs) + treeHash(t, records)
	var dry gcReport
	d.okJSONResult(&dry, "gc", "--dry-run")
	if treeHash(t, packs)+treeHash(t, records) != before {
		t.Fatal("gc --dry-run changed the store")
	}
	if !dry.DryRun || dry.LiveBlobs == 0 || dry.LiveBlobs+dry.DeadBlobs != dry.StoreBlobs ||
		dry.DeadBytes < 3<<20 || dry.ReclaimableBytes < 3<<20 || dry.ReclaimableBytes > dry.StoreBytesBefore-dry.LiveBytes ||
		dry.LiveBytes < 4<<20 || dry.BytesFreed != 0 || dry.StoreBytesAfter != dry.StoreBytesBefore {
		t.Fatalf("gc --dry-run: %+v", dry)
	}
	if out := d.ok("gc", "--dry-run"); !strings.Contains(out, "live") || !strings.Contains(out, "dead") ||
		!strings.Contains(out, "reclaimable") || !strings.Contains(out, "nothing deleted") {
		t.Errorf("gc --dry-run text:\n%s", out)
	}

	var res gcReport
	d.okJSONResult(&res, "gc")
	if res.DryRun || res.DeadBlobs != dry.DeadBlobs || res.PacksDeleted == 0 ||
		res.BytesFreed != res.StoreBytesBefore-res.StoreBytesAfter || res.BytesFreed < dry.ReclaimableBytes*9/10 {
		t.Fatalf("gc after the dry run (%+v): %+v", dry, res)
	}
	// Nothing dead is left: a second gc frees nothing, and says so.
	d.okJSONResult(&res, "gc")
	if res.DeadBlobs != 0 || res.BytesFreed != 0 || res.LiveBlobs != res.StoreBlobs {
		t.Fatalf("second gc: %+v", res)
	}
}
