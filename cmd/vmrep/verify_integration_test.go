package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

func TestVerifyCommand(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 8<<20, 4)
	d.ok("snapshot", "create", "web")
	if out := d.ok("verify", "--read-data"); !strings.Contains(out, "verified 1 snapshots (2 volumes), no problems") {
		t.Fatalf("verify:\n%s", out)
	}
	// --json streams NDJSON events, as many as the job's timing gives;
	// the last one carries the result.
	var res api.VerifyResult
	d.okJSONResult(&res, "verify")
	if res.Snapshots != 1 || res.Volumes != 2 || len(res.Problems) != 0 {
		t.Fatalf("verify --json result: %+v", res)
	}

	// Damage chunk data inside a pack: verify --read-data must name it.
	d.stop()
	var packs []string
	filepath.WalkDir(filepath.Join(d.store, "packs"), func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			packs = append(packs, p)
		}
		return nil
	})
	if len(packs) == 0 {
		t.Fatal("no pack files in the store")
	}
	f, err := os.OpenFile(packs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	f.WriteAt(make([]byte, 4096), fi.Size()/2)
	f.Close()
	d.start()
	r := d.vmrep("verify", "--read-data")
	if r.code != 1 || !strings.Contains(r.stdout, "problem: ") || !strings.Contains(r.stdout, "chunk ") {
		t.Fatalf("verify of a damaged store: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "vmrep: verify found") {
		t.Errorf("stderr: %q", r.stderr)
	}
}
