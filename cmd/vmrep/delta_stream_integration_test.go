package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/vmrep/vmrep/engine/delta"
)

// target runs the CLI as on a replica host with no daemon: its socket
// names nothing.
func (d *testDaemon) target(stdin io.Reader, args ...string) result {
	d.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "vmrep"), append([]string{"--socket", filepath.Join(d.dir, "no-daemon.sock")}, args...)...)
	cmd.Stdin = stdin
	return runCLI(d.t, cmd)
}

// pipe runs `vmrep delta export ARGS -o -` against the daemon into
// `vmrep delta apply - --replica DIR` with no daemon, as `... | ssh host
// vmrep delta apply -` would, and returns both results.
func (d *testDaemon) pipe(dir string, export ...string) (result, result) {
	d.t.Helper()
	src := exec.Command(filepath.Join(binDir, "vmrep"), append(append([]string{"--socket", d.socket, "delta", "export"}, export...), "-o", "-")...)
	dst := exec.Command(filepath.Join(binDir, "vmrep"), "--socket", filepath.Join(d.dir, "no-daemon.sock"), "delta", "apply", "-", "--replica", dir)
	pr, pw := io.Pipe()
	var se, do, de bytes.Buffer
	src.Stdout, src.Stderr = pw, &se
	dst.Stdin, dst.Stdout, dst.Stderr = pr, &do, &de
	if err := dst.Start(); err != nil {
		d.t.Fatal(err)
	}
	srcErr := src.Run()
	pw.Close()
	dstErr := dst.Wait()
	return result{stderr: se.String(), code: exitCode(d.t, srcErr)}, result{stdout: do.String(), stderr: de.String(), code: exitCode(d.t, dstErr)}
}

func exitCode(t *testing.T, err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// replicaSum is the SHA-256 of a replica's state file and volume files,
// by name: what a cut or damaged stream must leave as it was. The spool
// (incoming.vmdelta) is not the replica.
func replicaSum(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); n == "state.json" || strings.HasSuffix(n, ".img") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(h, n+"\n")
		io.Copy(h, f)
		f.Close()
	}
	return hex.EncodeToString(h.Sum(nil))
}

var resumeRe = regexp.MustCompile(`vmrep delta export (\S+) (\S+) --resume (\S+) -o - \| vmrep delta apply - --replica (\S+)`)

// TestDeltaStream: `delta export -o - | delta apply -` (the apply with no
// daemon) gives the replica restore gives; a stream cut at random points
// and a stream with a flipped byte each leave the replica as it was
// (SHA-256), the cut one resumes with the printed command, and a rerun
// completes.
func TestDeltaStream(t *testing.T) {
	h := newHistory(t)
	d := h.d
	rep := filepath.Join(d.dir, "replica")
	d.ok("replica", "create", "web@1", "--dir", rep)

	// The stream is the delta file, byte for byte.
	file := filepath.Join(d.dir, "d12.vmdelta")
	d.ok("delta", "export", "web@1", "web@2", "-o", file)
	r := d.vmrep("delta", "export", "web@1", "web@2", "-o", "-")
	want, err := os.ReadFile(file)
	if err != nil || r.code != 0 || r.stdout != string(want) {
		t.Fatalf("export -o -: exit %d, %d bytes, want the %d of the file (%v); stderr %s", r.code, len(r.stdout), len(want), err, r.stderr)
	}
	if !strings.Contains(r.stderr, "web@1..web@2 sent") {
		t.Errorf("export -o - says on stderr: %q", r.stderr)
	}
	stream := []byte(r.stdout)
	base := replicaSum(t, rep)

	// Cut at random points: nothing changes, and each says how to resume.
	points := 20
	if testing.Short() {
		points = 6
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	var last []string
	for i := range points {
		cut := 1 + rng.IntN(len(stream)-1)
		if i == points-1 {
			cut = len(stream) / 2 // past the header, so there is a token
		}
		r := d.target(bytes.NewReader(stream[:cut]), "delta", "apply", "-", "--replica", rep)
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("seed %d: stream cut at %d of %d: exit %d, stderr %q", seed, cut, len(stream), r.code, r.stderr)
		}
		if got := replicaSum(t, rep); got != base {
			t.Fatalf("seed %d: stream cut at %d changed the replica", seed, cut)
		}
		if i == points-1 {
			t.Logf("a cut stream says: %s", r.stderr)
		}
		last = resumeRe.FindStringSubmatch(r.stderr)
		if last == nil && !strings.Contains(r.stderr, "before its header") {
			t.Fatalf("seed %d: cut at %d: no resume command in %q", seed, cut, r.stderr)
		}
	}
	if last[1] != "web@1" || last[2] != "web@2" || last[4] != rep {
		t.Fatalf("resume command names %q", last[0])
	}
	// A forged token for other snapshots is refused by the exporter.
	if r := d.vmrep("delta", "export", "web@2", "web@3", "--resume", last[3], "-o", "-"); r.code != 1 || !strings.Contains(r.stderr, "another delta") {
		t.Fatalf("a token used for web@2..web@3: exit %d, stderr %q", r.code, r.stderr)
	}
	// A token with the right names and a wrong prefix hash gets nothing:
	// the daemon compares the delta it builds with what the token says the
	// receiver holds before it sends a byte.
	tok, err := delta.ParseResumeToken(last[3])
	if err != nil {
		t.Fatal(err)
	}
	tok.Prefix[0] ^= 1
	if r := d.vmrep("delta", "export", "web@1", "web@2", "--resume", tok.String(), "-o", "-"); r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "differs") {
		t.Fatalf("a token with a wrong prefix hash: exit %d, %d bytes out, stderr %q", r.code, len(r.stdout), r.stderr)
	}
	src, dst := d.pipe(rep, "web@1", "web@2", "--resume", last[3])
	if src.code != 0 || dst.code != 0 {
		t.Fatalf("resume: export exit %d (%s), apply exit %d (%s)", src.code, src.stderr, dst.code, dst.stderr)
	}
	if !strings.Contains(src.stderr, "resumed") {
		t.Errorf("resumed export says %q", src.stderr)
	}
	h.replicaAt(t, rep, 2)
	// The replica equals what restore writes for web@2.
	for _, v := range h.vg.Volumes {
		out := filepath.Join(d.dir, "restored-"+v.Name+".img")
		d.ok("restore", "web@2", "--volume", v.Name, "-o", out)
		sameFile(t, filepath.Join(rep, v.ID+".img"), out)
	}
	if _, err := os.Stat(filepath.Join(rep, "incoming.vmdelta")); !os.IsNotExist(err) {
		t.Errorf("the spool is left after the apply: %v", err)
	}

	// A flipped byte: refused, nothing changed; the rerun completes.
	d.ok("replica", "create", "web@1", "--dir", rep, "--force")
	base = replicaSum(t, rep)
	bad := append([]byte(nil), stream...)
	bad[len(bad)/3] ^= 0x10
	r = d.target(bytes.NewReader(bad), "delta", "apply", "-", "--replica", rep)
	if r.code != 1 || !strings.Contains(r.stderr, "damaged") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("flipped byte: exit %d, stderr %q", r.code, r.stderr)
	}
	if replicaSum(t, rep) != base {
		t.Fatal("a stream with a flipped byte changed the replica")
	}
	if src, dst := d.pipe(rep, "web@1", "web@2"); src.code != 0 || dst.code != 0 || !strings.Contains(dst.stdout, "applied stdin") {
		t.Fatalf("rerun: export exit %d (%s), apply exit %d (%s%s)", src.code, src.stderr, dst.code, dst.stdout, dst.stderr)
	}
	h.replicaAt(t, rep, 2)

	// The replica directory's flock keeps an in-process apply and the
	// daemon's apart: while another process holds it, both refuse.
	lk, err := os.Open(rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lk.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if r := d.vmrep("delta", "apply", file, "--replica", rep); r.code != 1 || !strings.Contains(r.stderr, "busy") {
		t.Errorf("daemon apply under another's lock: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := d.target(nil, "delta", "apply", file, "--replica", rep); r.code != 1 || !strings.Contains(r.stderr, "busy") {
		t.Errorf("in-process apply under another's lock: exit %d, stderr %q", r.code, r.stderr)
	}
	lk.Close()
}

// TestDeltaApplyWithoutDaemon: on a host where no vmrepd runs, delta show,
// delta apply of a file and replica verify work in the vmrep process.
func TestDeltaApplyWithoutDaemon(t *testing.T) {
	h := newHistory(t)
	d := h.d
	rep := filepath.Join(d.dir, "replica")
	d.ok("replica", "create", "web@1", "--dir", rep)
	file := filepath.Join(d.dir, "d12.vmdelta")
	d.ok("delta", "export", "web@1", "web@2", "-o", file)
	daemonShow := d.ok("delta", "show", file)
	d.stop()
	if _, err := os.Stat(d.socket); err == nil {
		t.Logf("the stopped daemon left its socket: the CLI must still find no daemon there")
	}
	// The daemon's socket path, with no daemon behind it.
	r := d.vmrep("delta", "show", file)
	if r.code != 0 || r.stdout != daemonShow {
		t.Fatalf("delta show without a daemon: exit %d, stderr %q\n%s\nwant\n%s", r.code, r.stderr, r.stdout, daemonShow)
	}
	if r := d.vmrep("delta", "apply", file, "--replica", rep, "--verify", "full"); r.code != 2 {
		t.Fatalf("--verify full without a store: exit %d, stderr %q", r.code, r.stderr)
	}
	r = d.vmrep("delta", "apply", file, "--replica", rep, "--verify", "extents")
	if r.code != 0 || !strings.Contains(r.stdout, "verified 2 volumes") {
		t.Fatalf("delta apply without a daemon: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	h.replicaAt(t, rep, 2)
	if r := d.vmrep("replica", "verify", rep); r.code != 0 || strings.Count(r.stdout, " OK") != 2 {
		t.Fatalf("replica verify without a daemon: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	patchFile(t, filepath.Join(rep, h.dataID+".img"), 12345, []byte("not what the snapshot holds"))
	if r := d.vmrep("replica", "verify", rep); r.code != 1 || !strings.Contains(r.stdout, "MISMATCH") || !strings.Contains(r.stderr, `volume "db"`) {
		t.Fatalf("replica verify of a damaged replica without a daemon: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
