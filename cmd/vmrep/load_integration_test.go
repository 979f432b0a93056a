package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/reliability"
)

// rssBound is what the -race daemon's peak RSS must stay under: generous
// (the race detector multiplies memory), but a leak per request breaks it.
const rssBound = 3 << 30

// loadFixture is the daemon and what the clients of TestReliabilityLoad
// share: VGs with sources that do not change, and a FUSE mount.
type loadFixture struct {
	d      *testDaemon
	vgs    []string
	boot   map[string][]byte // vg -> the bytes of its boot source
	mnt    string
	mu     sync.Mutex
	counts map[string]int
}

func (f *loadFixture) count(name string) {
	f.mu.Lock()
	f.counts[name]++
	f.mu.Unlock()
}

// TestReliabilityLoad runs many clients doing mixed work against a daemon
// built with -race, with gc attempts among them, then checks that no error
// but a documented refusal happened, that no race was reported, that
// goroutines and file descriptors come back to their starting counts and
// that peak RSS stayed bounded.
func TestReliabilityLoad(t *testing.T) {
	needFUSE(t)
	clients := reliability.Size(8, 64)
	secs := reliability.Size(5, 60)
	if s := os.Getenv("VMREP_LOAD_SECONDS"); s != "" {
		secs, _ = strconv.Atoi(s)
	}
	r := reliability.Start(t, "load",
		"concurrent API clients doing list, show, diff, restore, verify, FUSE mount reads, snapshot create on several VGs and gc attempts against a -race vmrepd")
	r.Size = fmt.Sprintf("%d clients for %d s", clients, secs)
	f := newLoadFixture(t, min(clients/2, 16))
	pid := f.d.cmd.Process.Pid
	ctx := context.Background()
	probe := f.d.client(t)
	baseG, err := probe.Goroutines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	baseFD := openFDs(t, pid, f.d.store)

	stopAt := time.Now().Add(time.Duration(secs) * time.Second)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.client(t, i, stopAt)
		}()
	}
	wg.Wait()
	probe.Close()

	n, fds := settle(t, probe, pid, f.d.store, baseG, baseFD)
	races := strings.Count(f.d.log.String(), "WARNING: DATA RACE")
	hwm := vmHWM(t, pid)
	r.Bad["unexpected errors"] = f.counts["unexpected errors"]
	r.Bad["wrong bytes"] = f.counts["wrong bytes"]
	r.Bad["race reports"] = races
	if f.counts["gc asked"] > 0 && f.counts["gc ran"] == 0 {
		r.Bad["gc starved"] = 1 // asked for and never ran: the defect queueing fixed
	} else {
		r.Bad["gc starved"] = 0
	}
	r.Bad["leaked goroutines"] = max(0, n-baseG-4)
	r.Bad["leaked fds"] = max(0, fds.other-baseFD.other-2)
	r.Figures["requests"] = strconv.Itoa(f.counts["requests"])
	r.Figures["busy refusals"] = strconv.Itoa(f.counts["busy refusals"])
	for k, v := range f.counts {
		if strings.HasPrefix(k, "busy: ") {
			r.Figures[k] = strconv.Itoa(v) // by request: "busy: gc", "busy: snapshot"
		}
	}
	r.Figures["gc asked/ran"] = fmt.Sprintf("%d/%d", f.counts["gc asked"], f.counts["gc ran"])
	r.Figures["snapshots"] = strconv.Itoa(f.counts["snapshots"])
	r.Figures["mount reads"] = strconv.Itoa(f.counts["mount reads"])
	r.Figures["goroutines before/after"] = fmt.Sprintf("%d/%d", baseG, n)
	r.Figures["fds before/after (store files, bounded caches)"] = fmt.Sprintf("%d/%d (%d/%d)", baseFD.other, fds.other, baseFD.store, fds.store)
	r.Figures["peak RSS"] = fmt.Sprintf("%d MiB", hwm>>20)
	t.Logf("%d clients, %d s: %v; goroutines %d -> %d; fds %+v -> %+v; peak RSS %d MiB", clients, secs, f.counts, baseG, n, baseFD, fds, hwm>>20)
	for k, v := range r.Bad {
		if v != 0 {
			t.Errorf("%s: %d, want 0", k, v)
		}
	}
	if fds.store > baseFD.store+80 {
		t.Errorf("the daemon holds %d store files open after the load, %d before; caches bound them", fds.store, baseFD.store)
	}
	if hwm > rssBound {
		t.Errorf("peak RSS %d MiB, bound %d MiB", hwm>>20, rssBound>>20)
	}
	if races > 0 {
		t.Logf("daemon log:\n%s", f.d.log)
	}
	if res := f.d.vmrep("verify", "--read-data"); res.code != 0 {
		t.Fatalf("verify after load: %+v", res)
	}
}

// newLoadFixture starts a -race daemon with nVG VGs, each snapshotted
// twice, and mounts the store.
func newLoadFixture(t *testing.T, nVG int) *loadFixture {
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
	f := &loadFixture{d: d, boot: map[string][]byte{}, counts: map[string]int{}, mnt: filepath.Join(t.TempDir(), "mnt")}
	for i := range nVG {
		vg := fmt.Sprintf("vm%02d", i)
		boot, _ := d.makeVG(vg, 1<<20, uint64(100+i))
		b, err := os.ReadFile(boot)
		if err != nil {
			t.Fatal(err)
		}
		f.vgs, f.boot[vg] = append(f.vgs, vg), b
		d.ok("snapshot", "create", vg) // two, so that diff @1 @latest has two to compare
		d.ok("snapshot", "create", vg)
	}
	if err := os.Mkdir(f.mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if fuseMounted(t, f.mnt) {
			exec.Command("umount", "-l", f.mnt).Run()
		}
	})
	d.ok("mount", f.mnt)
	t.Cleanup(func() { d.vmrep("umount", f.mnt) })
	return f
}
