package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
	"github.com/vmrep/vmrep/internal/reliability"
)

// gcRace is the state of TestReliabilityGCRace: what each snapshot
// captured, and the counts the suite reports.
type gcRace struct {
	t    *testing.T
	d    *testDaemon
	cl   *client.Client
	vgs  []string
	mu   sync.Mutex
	want map[string][2][32]byte // "vg@seq" -> sha256 of boot and db as captured
	old  map[string][][]byte    // vg -> earlier boot images, to write back (dedup against old snapshots)
	n    map[string]int         // counts by name
}

func (g *gcRace) count(name string, k int) {
	g.mu.Lock()
	g.n[name] += k
	g.mu.Unlock()
}

// TestReliabilityGCRace interleaves snapshot create (of changed sources
// that dedup against earlier and concurrent snapshots), snapshot delete and
// gc at random offsets through a real daemon, then checks the store and
// restores every remaining snapshot.
func TestReliabilityGCRace(t *testing.T) {
	runs := reliability.Size(10, 200)
	r := reliability.Start(t, "gc racing ingest",
		"seeded runs of concurrent snapshot create (deduplicating against earlier and concurrent snapshots), snapshot delete --force and gc through a real vmrepd; after each run verify --read-data and restore every remaining snapshot")
	r.Size = fmt.Sprintf("%d runs", runs)
	d := newDaemon(t)
	g := &gcRace{t: t, d: d, cl: d.client(t), want: map[string][2][32]byte{}, old: map[string][][]byte{}, n: map[string]int{}}
	for i := range 3 {
		name := fmt.Sprintf("g%d", i)
		d.makeVG(name, 1<<20, uint64(700+i))
		g.vgs = append(g.vgs, name)
	}
	for run := range runs {
		rng := rand.New(rand.NewPCG(uint64(run), 0x6763))
		for range 3 {
			g.wave(rng)
		}
		g.trim(3)
		g.check(run)
		if t.Failed() && g.n["unexpected errors"] > 10 {
			break
		}
	}
	for _, k := range []string{"missing chunks", "wrong restores", "unexpected errors", "verify problems"} {
		r.Bad[k] = g.n[k]
	}
	for _, k := range []string{"snapshots", "deletes", "gc ran", "gc queued", "gc refused (one queued already)", "vg busy refusals", "restores checked"} {
		r.Figures[k] = strconv.Itoa(g.n[k])
	}
	t.Logf("%d runs: %v", runs, g.n)
	for k, v := range r.Bad {
		if v != 0 {
			t.Errorf("%s: %d, want 0", k, v)
		}
	}
}

// wave changes every source, then runs one snapshot per VG, a delete or
// two and one or two gcs at once, each after a random delay.
func (g *gcRace) wave(rng *rand.Rand) {
	for _, vg := range g.vgs {
		g.mutate(rng, vg)
	}
	var wg sync.WaitGroup
	later := func(fn func()) {
		delay := time.Duration(rng.IntN(40)) * time.Millisecond
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(delay)
			fn()
		}()
	}
	for _, vg := range g.vgs {
		later(func() { g.snapshot(vg) })
	}
	for _, victim := range g.victims(rng) {
		later(func() { g.delete(victim) })
	}
	for range 1 + rng.IntN(2) {
		later(g.gc)
	}
	wg.Wait()
}

// mutate rewrites parts of vg's boot image: random bytes, bytes of another
// VG (dedup across VGs), or an earlier image whole (dedup against older
// snapshots, which a concurrent delete and gc may be dropping).
func (g *gcRace) mutate(rng *rand.Rand, vg string) {
	path := filepath.Join(g.d.dir, vg+"-boot.img")
	img, err := os.ReadFile(path)
	if err != nil {
		g.t.Fatal(err)
	}
	g.old[vg] = append(g.old[vg], img)
	if len(g.old[vg]) > 4 {
		g.old[vg] = g.old[vg][1:]
	}
	switch rng.IntN(3) {
	case 0:
		b := make([]byte, 64<<10)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		copy(img[rng.IntN(len(img)/2):], b)
	case 1:
		other, err := os.ReadFile(filepath.Join(g.d.dir, g.vgs[rng.IntN(len(g.vgs))]+"-data.img"))
		if err != nil {
			g.t.Fatal(err)
		}
		off := rng.IntN(len(img) / 2)
		copy(img[off:], other[off:off+128<<10])
	default:
		img = append([]byte(nil), g.old[vg][rng.IntN(len(g.old[vg]))]...)
	}
	if err := os.WriteFile(path, img, 0o644); err != nil {
		g.t.Fatal(err)
	}
}

// snapshot snapshots vg and remembers what its sources held.
func (g *gcRace) snapshot(vg string) {
	ctx := context.Background()
	var sums [2][32]byte
	for i, v := range []string{"boot", "data"} {
		b, err := os.ReadFile(filepath.Join(g.d.dir, vg+"-"+v+".img"))
		if err != nil {
			g.t.Fatal(err)
		}
		sums[i] = sha256.Sum256(b)
	}
	j, err := g.cl.CreateSnapshot(ctx, vg, api.CreateSnapshotRequest{})
	if isBusy(err) {
		g.count("vg busy refusals", 1) // a delete of the VG runs: documented
		return
	}
	if err != nil {
		g.unexpected("snapshot %s: %v", vg, err)
		return
	}
	ev, err := g.cl.Wait(ctx, j.ID, nil)
	if err != nil {
		g.unexpected("snapshot %s: %v", vg, err)
		return
	}
	var sn api.Snapshot
	if err := json.Unmarshal(ev.Result, &sn); err != nil || sn.Seq == 0 {
		g.unexpected("snapshot %s result %s: %v", vg, ev.Result, err)
		return
	}
	g.mu.Lock()
	g.want[fmt.Sprintf("%s@%d", vg, sn.Seq)] = sums
	g.n["snapshots"]++
	g.mu.Unlock()
}

// victims picks snapshots to delete: a random one, and the oldest of a VG
// that holds more than four.
func (g *gcRace) victims(rng *rand.Rand) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var all []string
	per := map[string][]uint64{}
	for k := range g.want {
		all = append(all, k)
		vg, seq, _ := strings.Cut(k, "@")
		n, _ := strconv.ParseUint(seq, 10, 64)
		per[vg] = append(per[vg], n)
	}
	pick := map[string]bool{}
	if len(all) > 0 && rng.IntN(3) > 0 {
		pick[all[rng.IntN(len(all))]] = true
	}
	for vg, seqs := range per {
		if len(seqs) > 4 {
			oldest := seqs[0]
			for _, s := range seqs {
				oldest = min(oldest, s)
			}
			pick[fmt.Sprintf("%s@%d", vg, oldest)] = true
		}
	}
	var out []string
	for k := range pick {
		out = append(out, k)
	}
	return out
}

// trim deletes the oldest snapshots of each VG until keep remain, so the
// restores each run checks stay bounded (deletes that raced a snapshot of
// their VG were refused and leave more behind).
func (g *gcRace) trim(keep int) {
	for {
		g.mu.Lock()
		per := map[string][]uint64{}
		for k := range g.want {
			vg, seq, _ := strings.Cut(k, "@")
			n, _ := strconv.ParseUint(seq, 10, 64)
			per[vg] = append(per[vg], n)
		}
		g.mu.Unlock()
		var victims []string
		for vg, seqs := range per {
			if len(seqs) > keep {
				slices.Sort(seqs)
				for _, n := range seqs[:len(seqs)-keep] {
					victims = append(victims, fmt.Sprintf("%s@%d", vg, n))
				}
			}
		}
		if len(victims) == 0 {
			return
		}
		for _, v := range victims {
			g.delete(v)
		}
	}
}

// delete deletes a snapshot with --force and forgets it.
func (g *gcRace) delete(name string) {
	vg, seq, _ := strings.Cut(name, "@")
	g.mu.Lock()
	sums := g.want[name]
	delete(g.want, name) // before: a restore must not look for it
	g.mu.Unlock()
	err := g.cl.DeleteSnapshot(context.Background(), vg, seq, true)
	if isBusy(err) {
		g.count("vg busy refusals", 1) // a snapshot of the VG runs: documented
		g.mu.Lock()
		g.want[name] = sums
		g.mu.Unlock()
		return
	}
	if err != nil {
		g.unexpected("delete %s: %v", name, err)
		return
	}
	g.count("deletes", 1)
}

// gc asks for a gc: it runs, is queued first, or is refused because one
// is already queued or running.
func (g *gcRace) gc() {
	ctx := context.Background()
	j, err := g.cl.GC(ctx, api.GCRequest{})
	if isBusy(err) {
		g.count("gc refused (one queued already)", 1)
		return
	}
	if err != nil {
		g.unexpected("gc: %v", err)
		return
	}
	if j.State == api.StateQueued {
		g.count("gc queued", 1)
	}
	if _, err := g.cl.Wait(ctx, j.ID, nil); err != nil {
		g.unexpected("gc: %v", err)
		return
	}
	g.count("gc ran", 1)
}

// isBusy says whether err is a documented busy refusal.
func isBusy(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Code == api.CodeBusy
}

func (g *gcRace) unexpected(format string, args ...any) {
	g.count("unexpected errors", 1)
	g.t.Errorf(format, args...)
}
