package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/reliability"
	"github.com/vmrep/vmrep/internal/vfs"
)

// replicaDir is the replica directory inside the apply suites' MemFS.
const replicaDir = "/replica"

// applyCase is a replica at base, on a MemFS, and the delta that brings it
// to target.
type applyCase struct {
	base         *vfs.MemFS
	deltaPath    string
	from, to     volume.Snapshot
	fromSet, set imageSet
}

// newApplyCase ingests two snapshots into a real store, exports the delta
// between them and makes a replica of the first, copied into a MemFS. The
// second snapshot swaps two regions of each volume, so the delta's copy
// records read sources it also overwrites, which apply must stage.
func newApplyCase(t *testing.T, seed uint64, size int) *applyCase {
	t.Helper()
	ctx := context.Background()
	sets := makeSets(seed, 2, size)
	for _, v := range vgVolumes {
		b := sets[1][v.Name]
		l := size / 4
		tmp := bytes.Clone(b[:l])
		copy(b[:l], b[size/2:size/2+l])
		copy(b[size/2:size/2+l], tmp)
	}
	work := t.TempDir()
	dir := filepath.Join(work, "store")
	if err := cas.Init(ctx, dir, storeConfig()); err != nil {
		t.Fatal(err)
	}
	s, err := cas.Open(ctx, dir, cas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, set := range sets {
		if err := snapshotSet(ctx, s, set, work); err != nil {
			t.Fatal(err)
		}
	}
	cat := volume.NewCatalog(s)
	vg, err := cat.GetVG(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	c := &applyCase{base: vfs.NewMem(), deltaPath: filepath.Join(work, "web.delta"), fromSet: sets[0], set: sets[1]}
	if c.from, err = cat.GetSnapshot(ctx, vg.ID, 1); err == nil {
		c.to, err = cat.GetSnapshot(ctx, vg.ID, 2)
	}
	if err == nil {
		var sum delta.Summary
		sum, err = build.Export(ctx, s, c.from, c.to, delta.FileSink(c.deltaPath), build.ExportOptions{})
		t.Logf("delta: %d records, %d data bytes, %d copy bytes", sum.Records, sum.DataBytes, sum.CopyBytes)
	}
	rep := filepath.Join(work, "replica")
	if err == nil {
		_, err = replica.CreateReplica(ctx, s, c.from, rep, replica.ReplicaOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	load(t, c.base, rep, replicaDir)
	return c
}

// apply applies the case's delta to the replica on m.
func (c *applyCase) apply(m *vfs.MemFS) error {
	rd, err := delta.Open(context.Background(), c.deltaPath)
	if err != nil {
		return err
	}
	_, err = replica.Apply(context.Background(), rd, replicaDir, replica.ApplyOptions{FS: m, Verify: replica.VerifyExtents})
	return err
}

// replicaAt says whether the replica on m is, by its state file and its
// bytes, wholly at snap with content set.
func (c *applyCase) replicaAt(m *vfs.MemFS, snap volume.Snapshot, set imageSet) (stateSays, bytesAre bool) {
	stateSays, bytesAre = true, true
	var st replica.State
	b, err := m.ReadFile(filepath.Join(replicaDir, replica.StateName))
	if err != nil || json.Unmarshal(b, &st) != nil {
		return false, false
	}
	for _, v := range snap.Volumes {
		found := false
		for _, vs := range st.Volumes {
			if vs.ID == v.VolumeID && vs.SnapshotID == snap.ID && vs.Manifest == v.Manifest {
				found = true
			}
		}
		stateSays = stateSays && found
		got, err := m.ReadFile(replica.VolumePath(replicaDir, v.VolumeID))
		bytesAre = bytesAre && err == nil && bytes.Equal(got, set[v.Name])
	}
	return stateSays, bytesAre
}

func exists(m *vfs.MemFS, name string) bool {
	_, err := m.Stat(filepath.Join(replicaDir, name))
	return !errors.Is(err, fs.ErrNotExist)
}

// checkReplica classifies the replica left on m (at base, at target, or
// mid-apply with its journal), counts what is wrong, then runs the same
// apply again and checks that it ends at the target.
func (c *applyCase) checkReplica(t *testing.T, m *vfs.MemFS, r *reliability.Result, at string) {
	t.Helper()
	journal := exists(m, replica.JournalName)
	baseState, baseBytes := c.replicaAt(m, c.from, c.fromSet)
	targetState, targetBytes := c.replicaAt(m, c.to, c.set)
	switch {
	case targetState && targetBytes:
		r.Figures["left at the target"] = incr(r.Figures["left at the target"])
	case targetState:
		r.Bad["replicas whose state names bytes they do not hold"]++
		t.Errorf("%s: the state names the target, the volumes do not hold it", at)
	case journal:
		r.Figures["left mid-apply, journal present"] = incr(r.Figures["left mid-apply, journal present"])
	case baseState && baseBytes:
		r.Figures["left at the base"] = incr(r.Figures["left at the base"])
	default:
		r.Bad["replicas neither at base nor target"]++
		t.Errorf("%s: neither at the base (state %v, bytes %v) nor at the target, and no journal", at, baseState, baseBytes)
	}
	ents, _ := m.ReadDir(replicaDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "staging-") && journal {
			r.Figures["copy stages left beside a journal"] = incr(r.Figures["copy stages left beside a journal"])
		}
	}
	if err := c.apply(m); err != nil {
		r.Bad["re-runs that failed"]++
		t.Errorf("%s: re-running the apply: %v", at, err)
		return
	}
	// Checked after a crash right after the re-run: what it did must be
	// durable, even where the first run's error left something unsynced.
	m = m.Durable()
	// A journal may remain only when finished (the state names the
	// target): the design lets the next Apply remove it.
	if s, b := c.replicaAt(m, c.to, c.set); !s || !b {
		r.Bad["replicas not at the target after a re-run"]++
		t.Errorf("%s: after the re-run: state at target %v, bytes at target %v", at, s, b)
	} else if exists(m, replica.JournalName) {
		r.Figures["finished journals left after a re-run"] = incr(r.Figures["finished journals left after a re-run"])
	}
}

func incr(s string) string {
	var n int
	fmt.Sscan(s, &n)
	return fmt.Sprint(n + 1)
}

// TestReliabilityCrashApply crashes a delta apply onto a replica at every
// file operation k. Afterwards the replica must be at its base, at its
// target, or mid-apply with its journal (the design's rules); in every
// case the same apply run again must leave it exactly at the target.
func TestReliabilityCrashApply(t *testing.T) {
	r := reliability.Start(t, "crash points: delta apply",
		"crashes a delta apply (two volumes, staged copy sources) at every file operation k, then checks the replica is at base, at target or journaled, and that re-running the apply reaches the target")
	for _, name := range []string{"replicas whose state names bytes they do not hold", "replicas neither at base nor target",
		"re-runs that failed", "replicas not at the target after a re-run"} {
		r.Bad[name] = 0
	}
	c := newApplyCase(t, 5, reliability.Size(256<<10, 1<<20))
	clean := c.base.Durable()
	if err := c.apply(clean); err != nil {
		t.Fatalf("clean apply: %v", err)
	}
	n := clean.Ops()
	for k := 1; k <= n; k++ {
		m := c.base.Durable()
		m.Crash(k, nil)
		c.apply(m) // fails from the crash on
		c.checkReplica(t, m.Durable(), r, fmt.Sprintf("crash at op %d of %d (%s)", k, n, m.Hit()))
		if t.Failed() && !reliability.Full() {
			break
		}
	}
	r.Size = fmt.Sprintf("%d crash points (every k)", n)
	r.Figures["k values"] = fmt.Sprint(n)
	t.Logf("apply: %d crash points; %v", n, r.Figures)
}

// TestReliabilityFaultApply fails the k-th file operation of the same apply
// with EIO, for every k: the apply must report it, and the replica then
// obeys the same rules as after a crash (checkReplica re-runs it).
func TestReliabilityFaultApply(t *testing.T) {
	r := reliability.Start(t, "injected EIO: delta apply",
		"fails the k-th file operation of a delta apply with EIO for every k; the error must be reported and a re-run reach the target")
	for _, name := range []string{"replicas whose state names bytes they do not hold", "replicas neither at base nor target",
		"re-runs that failed", "replicas not at the target after a re-run", "faults not reported"} {
		r.Bad[name] = 0
	}
	c := newApplyCase(t, 6, reliability.Size(256<<10, 1<<20))
	clean := c.base.Durable()
	if err := c.apply(clean); err != nil {
		t.Fatalf("clean apply: %v", err)
	}
	n := clean.Ops()
	for k := 1; k <= n; k++ {
		m := c.base.Durable()
		m.Fail(k)
		err := c.apply(m)
		at := fmt.Sprintf("EIO at op %d of %d (%s)", k, n, m.Hit())
		if err == nil && mustReport(m.Hit()) {
			r.Bad["faults not reported"]++
			t.Errorf("%s: the apply succeeded", at)
		}
		c.checkReplica(t, m, r, at)
		if t.Failed() && !reliability.Full() {
			break
		}
	}
	r.Size = fmt.Sprintf("%d injected faults (every k)", n)
	r.Figures["k values"] = fmt.Sprint(n)
}
