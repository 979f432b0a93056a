package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
)

// client is one load client: until stopAt, a random step at a time.
func (f *loadFixture) client(t *testing.T, i int, stopAt time.Time) {
	ctx := context.Background()
	cl := client.New(f.d.socket)
	defer cl.Close()
	rng := rand.New(rand.NewPCG(uint64(i), 0x10ad))
	own := f.vgs[i%len(f.vgs)]
	out := filepath.Join(f.d.dir, fmt.Sprintf("load%02d.img", i))
	for time.Now().Before(stopAt) {
		vg := f.vgs[rng.IntN(len(f.vgs))]
		step, err := f.step(ctx, cl, rng.IntN(10), vg, own, out)
		f.count("requests")
		var ce *client.Error
		switch {
		case err == nil:
		case errors.As(err, &ce) && ce.Code == api.CodeBusy:
			f.count("busy refusals")
			f.count("busy: " + strings.Fields(step)[0])
		case errors.Is(err, errWrongBytes):
			f.count("wrong bytes")
			t.Errorf("client %d %s: %v", i, step, err)
		default:
			f.count("unexpected errors")
			t.Errorf("client %d %s: %v", i, step, err)
		}
	}
}

var errWrongBytes = errors.New("wrong bytes")

// step does one piece of work, named by what.
func (f *loadFixture) step(ctx context.Context, cl *client.Client, what int, vg, own, out string) (string, error) {
	switch what {
	case 0:
		_, err := cl.ListVGs(ctx)
		return "vg list", err
	case 1:
		if _, err := cl.GetVG(ctx, vg); err != nil {
			return "vg show", err
		}
		_, err := cl.GetSnapshot(ctx, vg, "latest")
		return "snapshot show", err
	case 2:
		_, err := cl.Diff(ctx, api.DiffRequest{Base: vg + "@1", Target: vg + "@latest"})
		return "diff", err
	case 3:
		return "restore", f.restore(ctx, cl, vg, out)
	case 4:
		j, err := cl.Verify(ctx, api.VerifyRequest{})
		if err == nil {
			_, err = cl.Wait(ctx, j.ID, nil)
		}
		return "verify", err
	case 5:
		j, err := cl.CreateSnapshot(ctx, own, api.CreateSnapshotRequest{})
		if err == nil {
			_, err = cl.Wait(ctx, j.ID, nil)
		}
		if err == nil {
			f.count("snapshots")
		}
		return "snapshot create " + own, err
	case 6:
		f.count("gc asked")
		j, err := cl.GC(ctx, api.GCRequest{})
		if err == nil {
			_, err = cl.Wait(ctx, j.ID, nil)
		}
		if err == nil {
			f.count("gc ran")
		}
		return "gc", err
	default:
		return "mount read", f.mountRead(vg)
	}
}

// restore restores vg@latest's boot volume and compares it with its source.
func (f *loadFixture) restore(ctx context.Context, cl *client.Client, vg, out string) error {
	j, err := cl.Restore(ctx, api.RestoreRequest{Snapshot: vg + "@latest", Volume: "boot", Output: out})
	if err == nil {
		_, err = cl.Wait(ctx, j.ID, nil)
	}
	if err != nil {
		return err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	if !bytes.Equal(b, f.boot[vg]) {
		return fmt.Errorf("restore of %s@latest: %w", vg, errWrongBytes)
	}
	return nil
}

// mountRead reads vg's latest boot volume through the FUSE mount.
func (f *loadFixture) mountRead(vg string) error {
	b, err := os.ReadFile(filepath.Join(f.mnt, vg, "latest", "boot.img"))
	if err != nil {
		return err
	}
	f.count("mount reads")
	if !bytes.Equal(b, f.boot[vg]) {
		return fmt.Errorf("mount read of %s/latest/boot.img: %w", vg, errWrongBytes)
	}
	return nil
}

// fdCount is a daemon's open file descriptors: store files (packs, index
// tables, which bounded caches keep open) and the others.
type fdCount struct{ store, other int }

func openFDs(t *testing.T, pid int, store string) fdCount {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var c fdCount
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if strings.HasPrefix(target, store+"/") {
			c.store++
		} else {
			c.other++
		}
	}
	return c
}

// settle waits up to 20 s for goroutines and non-store fds to come back
// near their starting counts, and returns the last counts.
func settle(t *testing.T, probe *client.Client, pid int, store string, baseG int, baseFD fdCount) (int, fdCount) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := probe.Goroutines(context.Background())
		probe.Close()
		if err != nil {
			t.Fatal(err)
		}
		fds := openFDs(t, pid, store)
		if (n <= baseG+4 && fds.other <= baseFD.other+2) || time.Now().After(deadline) {
			return n, fds
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// vmHWM returns a process's peak resident set size in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
