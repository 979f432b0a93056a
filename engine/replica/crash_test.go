package replica

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/volume"
)

// Environment of a child process that only applies a delta; see TestMain.
const (
	childDeltaEnv   = "VMREP_DELTA_TEST_CHILD_DELTA"
	childReplicaEnv = "VMREP_DELTA_TEST_CHILD_REPLICA"
)

// TestMain lets the kill test re-run this binary as a child that applies
// one delta and exits, so the test can SIGKILL a real apply mid-flight.
func TestMain(m *testing.M) {
	if path := os.Getenv(childDeltaEnv); path != "" {
		os.Exit(childApply(path, os.Getenv(childReplicaEnv)))
	}
	os.Exit(m.Run())
}

// childApply opens the delta as the CLI's apply does (OpenForApply: the
// checksum pass runs alongside the pre-pass), so kills land there too.
func childApply(path, dir string) int {
	rd, err := delta.OpenForApply(context.Background(), path)
	if err == nil {
		_, err = Apply(context.Background(), rd, dir, ApplyOptions{})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// bigChange rewrites about want bytes of d: scattered 4 KiB writes, large
// overwrites and one zeroed range.
func bigChange(rng *rand.Rand, d []byte, want int) []byte {
	d = append([]byte(nil), d...)
	for done := 0; done < want/4; done += 4096 {
		off := rng.Intn(len(d)/4096) * 4096
		rng.Read(d[off : off+4096])
	}
	for done := want / 4; done < want; {
		n := 1<<20 + rng.Intn(4<<20)
		off := rng.Intn(len(d) - n)
		rng.Read(d[off : off+n])
		done += n
	}
	off := rng.Intn(len(d) - 2<<20)
	clear(d[off : off+2<<20])
	return d
}

// startApply runs the child apply of path to dir.
func startApply(t *testing.T, path, dir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDeltaEnv+"="+path, childReplicaEnv+"="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestKillDuringApply SIGKILLs a child applying a delta of about 64 MiB
// across two volumes at random moments. After each kill the state file
// must name the base or the target for every volume, and the same apply
// run again in-process must finish with the replica equal to the target.
// Deltas 1→2 and 2→1 alternate, so the replica never needs resetting.
func TestKillDuringApply(t *testing.T) {
	kills := 50
	if testing.Short() {
		kills = 10
	}
	if s := os.Getenv("VMREP_KILLS"); s != "" {
		fmt.Sscan(s, &kills)
	}
	seed := rand.Int63()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	e := newTestEnv(t)
	one := []image{
		{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot, data: make([]byte, 48<<20)},
		{id: volume.NewVolumeID(), name: "data", role: volume.RoleData, data: make([]byte, 40<<20)},
	}
	for i := range one {
		rng.Read(one[i].data[:len(one[i].data)*7/8])
	}
	two := []image{one[0], one[1]}
	two[0].data = bigChange(rng, one[0].data, 32<<20)
	two[1].data = append(bigChange(rng, one[1].data, 24<<20), make([]byte, 8<<20)...)
	rng.Read(two[1].data[40<<20 : 44<<20])
	killApplies(t, e, rng, seed, one, two, kills, false)
}

// TestKillDuringApplyMoved is TestKillDuringApply on a workload whose
// delta is mostly copy records: regions moved by a little more than 1 MiB,
// so most copy sources are ranges the same delta overwrites and must come
// from the stage after a kill.
func TestKillDuringApplyMoved(t *testing.T) {
	kills := 30
	if testing.Short() {
		kills = 10
	}
	seed := rand.Int63()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	e := newTestEnv(t)
	one := []image{{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot, data: make([]byte, 64<<20)}}
	rng.Read(one[0].data)
	two := []image{one[0]}
	two[0].data = append([]byte(nil), one[0].data...)
	for _, off := range []int{4 << 20, 30 << 20} {
		copy(two[0].data[off+1<<20+4096:], one[0].data[off:off+16<<20])
	}
	for range 64 {
		off := rng.Intn(len(two[0].data)/4096) * 4096
		rng.Read(two[0].data[off : off+4096])
	}
	killApplies(t, e, rng, seed, one, two, kills, true)
}

// TestKillDuringApplyTargetCopies is TestKillDuringApply on a workload
// whose delta holds target copies (the same new 6 MiB written twice), so
// kills land in both write rounds and a resumed apply must finish the
// first round before the second reads from it.
func TestKillDuringApplyTargetCopies(t *testing.T) {
	kills := 20
	if testing.Short() {
		kills = 6
	}
	seed := rand.Int63()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	e := newTestEnv(t)
	one := []image{{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot, data: make([]byte, 40<<20)}}
	rng.Read(one[0].data)
	two := []image{one[0]}
	two[0].data = append([]byte(nil), one[0].data...)
	nb := make([]byte, 6<<20)
	rng.Read(nb)
	copy(two[0].data[4<<20:], nb)
	copy(two[0].data[24<<20:], nb)
	sum, err := build.Export(context.Background(), e.store, e.snapshot(one), e.snapshot(two), delta.FileSink(filepath.Join(e.dir, "probe.vmdelta")), build.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.TargetCopyBytes < 1<<20 {
		t.Fatalf("the bytes written twice gave only %d bytes of target copies", sum.TargetCopyBytes)
	}
	killApplies(t, e, rng, seed, one, two, kills, false)
}

// killApplies exports one→two and two→one and SIGKILLs applies of them
// alternately, re-running each after the kill; see TestKillDuringApply.
func killApplies(t *testing.T, e *testEnv, rng *rand.Rand, seed int64, one, two []image, kills int, moved bool) {
	ctx := context.Background()
	imgs := [][]image{one, two}
	snaps := []volume.Snapshot{e.snapshot(one), e.snapshot(two)}
	paths := []string{filepath.Join(e.dir, "12.vmdelta"), filepath.Join(e.dir, "21")}
	sum, err := build.Export(ctx, e.store, snaps[0], snaps[1], delta.FileSink(paths[0]), build.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("delta 1→2: %d records, data %d, zero %d, copy %d bytes", sum.Records, sum.DataBytes, sum.ZeroBytes, sum.CopyBytes)
	if moved && sum.CopyBytes < 16<<20 {
		t.Fatalf("moved regions gave only %d bytes of copy records", sum.CopyBytes)
	}
	if _, err := build.Export(ctx, e.store, snaps[1], snaps[0], delta.SplitSink(paths[1], 8<<20), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	rep := filepath.Join(e.dir, "replica")
	if _, err := CreateReplica(ctx, e.store, snaps[0], rep, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	// An uninterrupted child apply sets the span of kill moments.
	start := time.Now()
	if err := startApply(t, paths[0], rep).Wait(); err != nil {
		t.Fatalf("uninterrupted apply: %v", err)
	}
	span := time.Since(start)
	at := 1
	midWrite, repaired := 0, int64(0)
	for i := range kills {
		from, to := at, 1-at
		cmd := startApply(t, paths[from], rep)
		if i%2 == 1 {
			// Aim inside the write phase: wait for the journal first.
			waitJournal(rep, span)
			time.Sleep(time.Duration(rng.Int63n(int64(span / 2))))
		} else {
			time.Sleep(time.Duration(rng.Int63n(int64(span))))
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		st, err := ReadState(context.Background(), rep)
		if err != nil {
			t.Fatalf("seed %d kill %d: state after the kill: %v", seed, i, err)
		}
		for _, v := range st.Volumes {
			if v.SnapshotID != snaps[from].ID && v.SnapshotID != snaps[to].ID {
				t.Fatalf("seed %d kill %d: volume %s at %s, neither base nor target", seed, i, v.Name, v.SnapshotID)
			}
		}
		if _, err := os.Stat(filepath.Join(rep, JournalName)); err == nil {
			midWrite++
		}
		rd, err := delta.OpenForApply(context.Background(), paths[from])
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Apply(ctx, rd, rep, ApplyOptions{Verify: VerifyExtents})
		if err != nil {
			t.Fatalf("seed %d kill %d: apply after the kill: %v", seed, i, err)
		}
		repaired += sum.Repaired
		checkReplica(t, rep, imgs[to], seed)
		if st, err := ReadState(context.Background(), rep); err != nil || st.SnapshotID != snaps[to].ID {
			t.Fatalf("seed %d kill %d: state after the re-run: %+v, %v", seed, i, st, err)
		}
		if _, err := os.Stat(filepath.Join(rep, JournalName)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("seed %d kill %d: journal left after a finished apply: %v", seed, i, err)
		}
		at = to
	}
	t.Logf("%d kills over %v: %d left a journal (mid-write), %d torn records repaired", kills, span, midWrite, repaired)
	if kills >= 20 && midWrite == 0 {
		t.Errorf("seed %d: no kill landed while volumes were being written; the test proved nothing", seed)
	}
}

// waitJournal polls until the child has written its journal (it is about
// to write volume files) or limit passes.
func waitJournal(dir string, limit time.Duration) {
	for end := time.Now().Add(limit); time.Now().Before(end); {
		if _, err := os.Stat(filepath.Join(dir, JournalName)); err == nil {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}
