package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/reliability"
)

// killTally counts what the kills of one operation did.
type killTally struct {
	rng       *rand.Rand
	clean     time.Duration // a clean run of the operation; kill delays are drawn in it
	kills     int
	before    int // the kill landed before the operation's job started
	mid       int // the operation was running when the kill landed
	corrupt   int // verify --read-data found a problem after the restart
	failed    int // the rerun after the restart failed
	differing int // the rerun's result differs from a clean run's
	leftovers int // files a killed run left in the store that the restart did not remove
}

// delay draws a kill delay uniformly within the clean run's duration.
func (k *killTally) delay() time.Duration {
	return time.Duration(k.rng.Int64N(int64(k.clean) + 1))
}

// cli is the vmrep command line against d, not yet started.
func (d *testDaemon) cli(args ...string) *exec.Cmd {
	return exec.Command(filepath.Join(binDir, "vmrep"), append([]string{"--socket", d.socket}, args...)...)
}

// timed runs f and returns how long it took.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// killDuring starts cmd, SIGKILLs victim after a random delay within the
// clean run's duration, and waits for cmd to end (it must: its daemon, or
// its daemon's peer, is gone). jobs is the daemon that runs the operation
// as a job, whose log says whether the kill landed before, during or after
// the job; nil for an operation that is no job, which counts as running
// while cmd runs.
func (k *killTally) killDuring(t *testing.T, victim, jobs *testDaemon, cmd *exec.Cmd) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	started, ended := jobCounts(jobs)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	time.Sleep(k.delay())
	running := true
	select {
	case <-done:
		running = false
	default:
	}
	s, e := jobCounts(jobs)
	victim.kill()
	k.kills++
	switch {
	case jobs == nil && running, jobs != nil && s > started && e == ended:
		k.mid++
	case jobs != nil && s == started && running:
		k.before++
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		k.failed++
		t.Errorf("%v did not end within 60s of the kill", cmd.Args)
	}
}

// jobCounts counts the jobs d's log says started and ended.
func jobCounts(d *testDaemon) (started, ended int) {
	if d == nil {
		return 0, 0
	}
	log := d.log.String()
	return strings.Count(log, `msg="job started"`), strings.Count(log, `msg="job ended"`)
}

// verify runs verify --read-data on d and counts a store it finds corrupt.
func (k *killTally) verify(t *testing.T, d *testDaemon) {
	t.Helper()
	r := d.vmrep("verify", "--read-data")
	if r.code != 0 || !strings.Contains(r.stdout, "no problems") {
		k.corrupt++
		t.Errorf("verify --read-data after a kill and restart: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var left []string
	for _, pat := range []string{filepath.Join(d.store, "tmp", "*"), filepath.Join(d.store, ".*")} {
		m, _ := filepath.Glob(pat)
		left = append(left, m...)
	}
	if len(left) != 0 {
		k.leftovers += len(left)
		t.Errorf("after a kill and restart the store holds leftovers: %v", left)
	}
}

// rerun runs the CLI again after a restart and counts a failure.
func (k *killTally) rerun(t *testing.T, d *testDaemon, args ...string) (result, bool) {
	t.Helper()
	r := d.vmrep(args...)
	if r.code != 0 {
		k.failed++
		t.Errorf("rerun of vmrep %s after a kill: exit %d: %s\ndaemon log:\n%s", strings.Join(args, " "), r.code, r.stderr, lastLines(d.log.String(), 30))
		return r, false
	}
	return r, true
}

// differ counts a rerun whose result is not a clean run's.
func (k *killTally) differ(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		k.differing++
		t.Errorf("after a kill and a rerun: %v", err)
	}
}

// sameBytes says how files a and b differ, if they do.
func sameBytes(a, b string) error {
	x, err := os.ReadFile(a)
	if err != nil {
		return err
	}
	y, err := os.ReadFile(b)
	if err != nil {
		return err
	}
	if !bytes.Equal(x, y) {
		return fmt.Errorf("%s and %s differ (%d and %d bytes)", a, b, len(x), len(y))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// killOps are the operations TestReliabilityKill kills a daemon during.
var killOps = []struct {
	name string
	run  func(t *testing.T, k *killTally, n int)
}{
	{"replicate (source killed)", func(t *testing.T, k *killTally, n int) { killReplicate(t, k, n, false) }},
	{"replicate (server killed)", func(t *testing.T, k *killTally, n int) { killReplicate(t, k, n, true) }},
	{"gc", killGC},
	{"snapshot delete", killSnapshotDelete},
	{"replica create", killReplicaCreate},
	{"mount", killMount},
}

// TestReliabilityKill SIGKILLs vmrepd at a random moment of each
// operation, restarts it, verifies the store with data and reruns the
// operation, whose result must be a clean run's.
func TestReliabilityKill(t *testing.T) {
	n := reliability.Size(3, 50)
	r := reliability.Start(t, "kills", "SIGKILL vmrepd at a random moment of replicate (either side), gc, snapshot delete, "+
		"replica create and a FUSE read; restart, verify --read-data, rerun and compare with a clean run")
	var all killTally
	for i, op := range killOps {
		k := &killTally{rng: rand.New(rand.NewPCG(13, uint64(i)))}
		ok := t.Run(strings.ReplaceAll(op.name, " ", "_"), func(t *testing.T) { op.run(t, k, n) })
		after := k.kills - k.before - k.mid
		t.Logf("%s: %d kills: %d before, %d during, %d after the operation; clean run %v; corrupt %d, failed reruns %d, differing %d, leftovers %d",
			op.name, k.kills, k.before, k.mid, after, k.clean.Round(time.Millisecond), k.corrupt, k.failed, k.differing, k.leftovers)
		r.Figures["kills before/during/after: "+op.name] = fmt.Sprintf("%d/%d/%d", k.before, k.mid, after)
		all.kills += k.kills
		all.mid += k.mid
		all.before += k.before
		all.corrupt += k.corrupt
		all.failed += k.failed
		all.differing += k.differing
		all.leftovers += k.leftovers
		if !ok && k.corrupt+k.failed+k.differing+k.leftovers == 0 {
			all.failed++ // the subtest stopped on a fatal error
		}
	}
	r.Size = fmt.Sprintf("%d kills (%d per operation, %d operations)", all.kills, n, len(killOps))
	r.Figures["kills during the operation"] = fmt.Sprint(all.mid)
	r.Figures["kills before it"] = fmt.Sprint(all.before)
	r.Figures["kills after it"] = fmt.Sprint(all.kills - all.before - all.mid)
	r.Bad["corrupt stores"] = all.corrupt
	r.Bad["failed reruns"] = all.failed
	r.Bad["differing results"] = all.differing
	r.Bad["store leftovers"] = all.leftovers
	if all.corrupt+all.failed+all.differing+all.leftovers != 0 {
		t.Errorf("kills: %d corrupt stores, %d failed reruns, %d differing results, %d store leftovers",
			all.corrupt, all.failed, all.differing, all.leftovers)
	}
}
