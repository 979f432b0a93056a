package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/reliability"
)

// enospcRig holds what the full-disk suite's cases share: a store on the
// ordinary disk with two snapshots, the deltas between them, and a small
// ext4 that receives each command's output.
type enospcRig struct {
	t        *testing.T
	r        *reliability.Result
	e        *testEnv
	s1, s2   volume.Snapshot
	one, two []image
	d12, d21 string // deltas on the ordinary disk
	mnt      string
	runs     int
}

// holesPair returns a 16 MiB base with data in its first 4 MiB only and a
// target that fills 8 MiB of the holes, overwrites a range and moves the
// old bytes of that range into a hole (a staged copy): applying it needs
// new blocks, which is what runs out.
func holesPair(rng *rand.Rand) (base, target []image) {
	d := make([]byte, 16<<20)
	rng.Read(d[:4<<20])
	id := volume.NewVolumeID()
	base = []image{{id: id, name: "boot", role: volume.RoleBoot, data: d}}
	td := append([]byte(nil), d...)
	rng.Read(td[4<<20 : 12<<20])
	copy(td[13<<20:], d[1<<20:1<<20+512<<10])
	rng.Read(td[1<<20 : 1<<20+512<<10])
	return base, []image{{id: id, name: "boot", role: volume.RoleBoot, data: td}}
}

// TestReliabilityENOSPC fills a small ext4 so that a delta export, a
// restore and a delta apply run out of space part-way, and checks each
// fails cleanly and succeeds, byte for byte, once space is freed; then
// does the same with the file system read-only. Ingest into a full store
// is the store's suite (branch i13-enospc), not this one.
func TestReliabilityENOSPC(t *testing.T) {
	r := reliability.Start(t, "full disk: export, restore, apply",
		"A small ext4 on a loop device is filled so that a delta export, a restore and a delta apply run out of space part-way, then made read-only; each must fail with one line, leave no partial output and the replica at its base, and succeed byte for byte once space is back.")
	mnt := smallFS(t, 64)
	ctx := context.Background()
	g := &enospcRig{t: t, r: r, e: newTestEnv(t), mnt: mnt}
	g.one, g.two = holesPair(rand.New(rand.NewSource(13)))
	g.s1, g.s2 = g.e.snapshot(g.one), g.e.snapshot(g.two)
	g.d12, g.d21 = filepath.Join(g.e.dir, "12.vmdelta"), filepath.Join(g.e.dir, "21.vmdelta")
	for _, p := range []struct {
		a, b volume.Snapshot
		path string
	}{{g.s1, g.s2, g.d12}, {g.s2, g.s1, g.d21}} {
		if _, err := build.Export(ctx, g.e.store, p.a, p.b, delta.FileSink(p.path), build.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Fractions of what a command needs that are left free.
	fracs := []float64{0.25, 0.6}
	if reliability.Full() {
		fracs = []float64{0, 0.05, 0.25, 0.5, 0.75, 0.9, 0.97}
	}
	for _, k := range []string{"errors not one line naming the cause", "partial outputs left", "replicas not at their base",
		"reruns differing from a clean run", "store problems after the runs"} {
		r.Bad[k] += 0
	}
	for _, f := range fracs {
		g.export(f)
		g.exportSplit(f)
		g.restore(f)
		g.apply(f)
	}
	fullRuns := g.runs
	g.readOnly()
	rep, err := g.e.store.Verify(ctx, cas.VerifyOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	r.Bad["store problems after the runs"] = len(rep.Problems)
	r.Size = fmt.Sprintf("%d full-disk runs at %d fill levels, %d read-only runs", fullRuns, len(fracs), g.runs-fullRuns)
	r.Figures["fill levels (free / needed)"] = fmt.Sprint(fracs)
	r.Figures["ingest into a full store"] = "not here: the store's own full-disk suite"
	for k, n := range r.Bad {
		if n != 0 {
			t.Errorf("%s: %d", k, n)
		}
	}
}

// failed counts err against what a refused command must say: one line,
// naming the cause (errno want).
func (g *enospcRig) failed(what string, err error, want syscall.Errno) {
	g.t.Helper()
	g.runs++
	if err == nil {
		g.t.Fatalf("%s: succeeded; the file system was meant to be full or read-only", what)
	}
	g.t.Logf("%s: %v", what, err)
	if !errors.Is(err, want) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), want.Error()) {
		g.r.Bad["errors not one line naming the cause"]++
	}
}

// leftAlone counts names a failed command left in dir beyond keep.
func (g *enospcRig) leftAlone(what, dir string, keep ...string) {
	g.t.Helper()
	if left := leftovers(g.t, dir, append(keep, "replica")...); len(left) > 0 {
		g.t.Logf("%s: left %v", what, left)
		g.r.Bad["partial outputs left"]++
	}
}

func (g *enospcRig) sameFile(what, path string, want []byte) {
	g.t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		g.t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		g.t.Logf("%s: differs at %d", what, firstDiff(got, want))
		g.r.Bad["reruns differing from a clean run"]++
	}
}

// export writes the 1→2 delta into the full file system, then again once
// the filler is gone.
func (g *enospcRig) export(frac float64) {
	ctx := context.Background()
	clean, err := os.ReadFile(g.d12)
	if err != nil {
		g.t.Fatal(err)
	}
	out := filepath.Join(g.mnt, "out.vmdelta")
	filler := fillTo(g.t, g.mnt, int64(frac*float64(len(clean))))
	_, err = build.Export(ctx, g.e.store, g.s1, g.s2, delta.FileSink(out), build.ExportOptions{})
	g.failed("export", err, syscall.ENOSPC)
	g.leftAlone("export", g.mnt)
	os.Remove(filler)
	if _, err := build.Export(ctx, g.e.store, g.s1, g.s2, delta.FileSink(out), build.ExportOptions{}); err != nil {
		g.t.Fatalf("export after freeing space: %v", err)
	}
	g.sameFile("export", out, clean)
	os.Remove(out)
}

// exportSplit writes the 1→2 delta as a split directory of 1 MiB parts
// into the full file system, so some parts are finished when space runs
// out, then again once the filler is gone.
func (g *enospcRig) exportSplit(frac float64) {
	ctx := context.Background()
	clean := filepath.Join(g.e.dir, "clean-split")
	if _, err := os.Stat(clean); err != nil {
		if _, err := build.Export(ctx, g.e.store, g.s1, g.s2, delta.SplitSink(clean, 1<<20), build.ExportOptions{}); err != nil {
			g.t.Fatal(err)
		}
	}
	out := filepath.Join(g.mnt, "out.split")
	filler := fillTo(g.t, g.mnt, int64(frac*float64(dirBytes(g.t, clean))))
	_, err := build.Export(ctx, g.e.store, g.s1, g.s2, delta.SplitSink(out, 1<<20), build.ExportOptions{})
	g.failed("split export", err, syscall.ENOSPC)
	g.leftAlone("split export", g.mnt)
	os.Remove(filler)
	if _, err := build.Export(ctx, g.e.store, g.s1, g.s2, delta.SplitSink(out, 1<<20), build.ExportOptions{}); err != nil {
		g.t.Fatalf("split export after freeing space: %v", err)
	}
	ents, err := os.ReadDir(clean)
	if err != nil {
		g.t.Fatal(err)
	}
	for _, e := range ents {
		want, err := os.ReadFile(filepath.Join(clean, e.Name()))
		if err != nil {
			g.t.Fatal(err)
		}
		g.sameFile("split export", filepath.Join(out, e.Name()), want)
	}
	if err := os.RemoveAll(out); err != nil {
		g.t.Fatal(err)
	}
}

func dirBytes(t *testing.T, dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// restore writes snapshot 2's volume into the full file system, then again.
func (g *enospcRig) restore(frac float64) {
	ctx := context.Background()
	m, err := volume.LoadManifest(ctx, g.e.store, g.s2.Volumes[0].Manifest)
	if err != nil {
		g.t.Fatal(err)
	}
	out := filepath.Join(g.mnt, "boot.img")
	filler := fillTo(g.t, g.mnt, int64(frac*float64(12<<20)))
	_, err = restore.ToPath(ctx, g.e.store, m, out, restore.Options{})
	g.failed("restore", err, syscall.ENOSPC)
	g.leftAlone("restore", g.mnt)
	os.Remove(filler)
	if _, err := restore.ToPath(ctx, g.e.store, m, out, restore.Options{}); err != nil {
		g.t.Fatalf("restore after freeing space: %v", err)
	}
	g.sameFile("restore", out, g.two[0].data)
	os.Remove(out)
}

// apply moves a replica at 1 on the full file system to 2, then again
// once the filler is gone, and back to 1 for the next round.
func (g *enospcRig) apply(frac float64) {
	rep := g.replicaAtBase()
	before := hashDir(g.t, rep)
	filler := fillTo(g.t, g.mnt, int64(frac*float64(8<<20)))
	g.failed("apply", g.applyFile(g.d12, rep), syscall.ENOSPC)
	if after := hashDir(g.t, rep); !sameMap(before, after) {
		g.t.Logf("apply: replica changed: %d files before, %d after", len(before), len(after))
		g.r.Bad["replicas not at their base"]++
	}
	os.Remove(filler)
	if err := g.applyFile(g.d12, rep); err != nil {
		g.t.Fatalf("apply after freeing space: %v", err)
	}
	g.sameFile("apply", VolumePath(rep, g.one[0].id), g.two[0].data)
	if err := g.applyFile(g.d21, rep); err != nil {
		g.t.Fatalf("apply 2→1: %v", err)
	}
}

// replicaAtBase returns the replica directory on the small file system,
// creating it at snapshot 1 the first time.
func (g *enospcRig) replicaAtBase() string {
	rep := filepath.Join(g.mnt, "replica")
	if _, err := os.Stat(rep); err == nil {
		return rep
	}
	if _, err := CreateReplica(context.Background(), g.e.store, g.s1, rep, ReplicaOptions{}); err != nil {
		g.t.Fatal(err)
	}
	return rep
}

func (g *enospcRig) applyFile(path, rep string) error {
	rd, err := delta.Open(context.Background(), path)
	if err != nil {
		return err
	}
	_, err = Apply(context.Background(), rd, rep, ApplyOptions{Verify: VerifyFull, Blobs: g.e.store})
	return err
}

func sameMap(a, b map[string]blob.ID) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// readOnly runs an export into, and an apply onto, the file system while
// it is mounted read-only, then again read-write. (A file system cannot be
// remounted read-only while a file on it is open for writing, so "turns
// read-only mid-run" is a remount between runs.)
func (g *enospcRig) readOnly() {
	rep := g.replicaAtBase()
	before := hashDir(g.t, rep)
	out := filepath.Join(g.mnt, "out.vmdelta")
	remount(g.t, g.mnt, true)
	_, err := build.Export(context.Background(), g.e.store, g.s1, g.s2, delta.FileSink(out), build.ExportOptions{})
	g.failed("export to a read-only file system", err, syscall.EROFS)
	g.failed("apply on a read-only file system", g.applyFile(g.d12, rep), syscall.EROFS)
	remount(g.t, g.mnt, false)
	g.leftAlone("read-only export", g.mnt)
	if !sameMap(before, hashDir(g.t, rep)) {
		g.r.Bad["replicas not at their base"]++
	}
	clean, _ := os.ReadFile(g.d12)
	if _, err := build.Export(context.Background(), g.e.store, g.s1, g.s2, delta.FileSink(out), build.ExportOptions{}); err != nil {
		g.t.Fatalf("export after remounting read-write: %v", err)
	}
	g.sameFile("read-only export", out, clean)
	if err := g.applyFile(g.d12, rep); err != nil {
		g.t.Fatalf("apply after remounting read-write: %v", err)
	}
	g.sameFile("read-only apply", VolumePath(rep, g.one[0].id), g.two[0].data)
}
