package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
)

// loadDuration is 30 s, 5 s with -short, or VMREP_LOAD_SECONDS.
func loadDuration(t *testing.T) time.Duration {
	if s := os.Getenv("VMREP_LOAD_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("VMREP_LOAD_SECONDS=%q: %v", s, err)
		}
		return time.Duration(n) * time.Second
	}
	if testing.Short() {
		return 5 * time.Second
	}
	return 30 * time.Second
}

// TestParallelClients runs 32 clients against a daemon built with -race:
// each lists, shows, snapshots its own VG and restores it, and checks the
// bytes. Afterwards the daemon's goroutines return to the baseline and
// every snapshot verifies.
func TestParallelClients(t *testing.T) {
	const clients = 32
	raceBin := filepath.Join(binDir, "vmrepd-race")
	if _, err := os.Stat(raceBin); err != nil {
		out, err := exec.Command("go", "build", "-race", "-o", raceBin, "../vmrepd").CombinedOutput()
		if err != nil {
			t.Fatalf("go build -race: %v\n%s", err, out)
		}
	}
	d := newDaemon(t)
	d.stop()
	d.bin = raceBin
	d.start()

	boots := make([]string, clients)
	for i := range clients {
		boots[i], _ = d.makeVG(fmt.Sprintf("vm%02d", i), 2<<20, uint64(100+i))
	}
	ctx := context.Background()
	probe := d.client(t)
	base, err := probe.Goroutines(ctx)
	if err != nil {
		t.Fatal(err)
	}

	stopAt := time.Now().Add(loadDuration(t))
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	counts := make([]int, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := client.New(d.socket)
			defer cl.Close()
			for time.Now().Before(stopAt) {
				if err := oneRound(ctx, cl, fmt.Sprintf("vm%02d", i), boots[i], filepath.Join(d.dir, fmt.Sprintf("out%02d.img", i))); err != nil {
					errs <- fmt.Errorf("client %d round %d: %w", i, counts[i], err)
					return
				}
				counts[i]++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	t.Logf("%d clients, %d rounds", clients, total)

	// Leaked goroutines: back near the baseline once clients are gone.
	var n int
	deadline := time.Now().Add(20 * time.Second)
	for {
		probe.Close()
		n, err = probe.Goroutines(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n <= base+4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n > base+4 {
		t.Errorf("daemon runs %d goroutines after the load, %d before", n, base)
	}
	r := d.vmrep("verify", "--read-data")
	if r.code != 0 {
		t.Fatalf("verify after load: %+v", r)
	}
	var vgs []api.VG
	d.okJSON(&vgs, "vg", "list")
	snaps := 0
	for _, vg := range vgs {
		snaps += vg.Snapshots
	}
	if snaps < clients {
		t.Errorf("only %d snapshots after the load", snaps)
	}
}

// oneRound is one client's cycle of reads, a snapshot and a restore.
func oneRound(ctx context.Context, cl *client.Client, vg, src, out string) error {
	if _, err := cl.ListVGs(ctx); err != nil {
		return err
	}
	if _, err := cl.GetVG(ctx, vg); err != nil {
		return err
	}
	j, err := cl.CreateSnapshot(ctx, vg, api.CreateSnapshotRequest{})
	if err != nil {
		return err
	}
	if _, err := cl.Wait(ctx, j.ID, nil); err != nil {
		return err
	}
	if _, err := cl.ListSnapshots(ctx, vg); err != nil {
		return err
	}
	j, err = cl.Restore(ctx, api.RestoreRequest{Snapshot: vg + "@latest", Volume: "boot", Output: out})
	if err != nil {
		return err
	}
	if _, err := cl.Wait(ctx, j.ID, nil); err != nil {
		return err
	}
	a, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return fmt.Errorf("restore of %s@latest differs from %s", vg, src)
	}
	return nil
}
