package main

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
)

var (
	bigImageOnce sync.Once
	bigImage     string
)

// sharedBigImage is a 1 GiB image (512 MiB of random data), written once
// per test run: large enough that a snapshot of it is still running when
// the daemon is killed.
func sharedBigImage(t *testing.T) string {
	bigImageOnce.Do(func() {
		p := filepath.Join(binDir, "big.img")
		writeImage(t, p, 1<<30, 42)
		bigImage = p
	})
	if bigImage == "" {
		t.Fatal("big image was not written")
	}
	return bigImage
}

func TestKillDuringSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and ingests a 1 GiB image")
	}
	big := sharedBigImage(t)
	d := newDaemon(t)
	d.ok("vg", "create", "big", "--boot", big)
	var j api.Job
	d.okJSON(&j, "snapshot", "create", "big", "--detach")

	cl := d.client(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := cl.GetJob(context.Background(), j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != api.StateRunning {
			t.Fatalf("snapshot ended before the kill (%s); the image is too small for this machine", got.State)
		}
		if got.Done > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("snapshot made no progress")
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.kill()
	if _, err := os.Stat(d.socket); err != nil {
		t.Fatalf("a killed daemon should leave its socket behind: %v", err)
	}

	d.start() // removes the stale socket, opens the store without help
	var snaps []api.Snapshot
	d.okJSON(&snaps, "snapshot", "list", "big")
	if len(snaps) != 0 {
		t.Fatalf("interrupted snapshot is visible: %+v", snaps)
	}
	d.ok("verify")
	d.ok("snapshot", "create", "big")
	d.okJSON(&snaps, "snapshot", "list", "big")
	if len(snaps) != 1 || snaps[0].Seq < 1 {
		t.Fatalf("retry: %+v", snaps)
	}
	d.ok("verify")
	out := filepath.Join(d.dir, "restored.img")
	d.ok("restore", "big@latest", "-o", out)
	sameFile(t, out, big)
}
