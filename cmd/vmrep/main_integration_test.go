package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmrep/vmrep/client"
	"github.com/vmrep/vmrep/internal/tofutest"
)

// binDir holds vmrep and vmrepd, built once for every test of the package.
var binDir string

func TestMain(m *testing.M) {
	if os.Getenv(rawHelperEnv) != "" {
		os.Exit(rawRequestMain()) // a child sending one request as another uid
	}
	dir, err := os.MkdirTemp("", "vmrep-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// 0755 so that a client running as another uid can execute vmrep.
	os.Chmod(dir, 0o755)
	binDir = dir
	for _, b := range []struct{ name, pkg string }{{"vmrep", "."}, {"vmrepd", "../vmrepd"}} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, b.name), b.pkg).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", b.name, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	tofutest.Cleanup()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a daemon's log while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testDaemon is a real vmrepd process on a temporary socket and store.
type testDaemon struct {
	t      *testing.T
	bin    string
	dir    string // 0755 root of the test's files
	store  string
	socket string
	extra  []string
	cmd    *exec.Cmd
	log    *syncBuffer
	done   chan error
}

func newDaemon(t *testing.T, extra ...string) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	// Both levels of the test's temp dir, so another uid can reach the socket.
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	d := &testDaemon{t: t, bin: filepath.Join(binDir, "vmrepd"), dir: dir, store: filepath.Join(dir, "store"),
		socket: filepath.Join(dir, "run", "vmrepd.sock"), extra: extra}
	d.start()
	t.Cleanup(d.stop)
	return d
}

func (d *testDaemon) start() {
	d.t.Helper()
	d.log = &syncBuffer{}
	d.cmd = exec.Command(d.bin, append([]string{"--store", d.store, "--socket", d.socket, "--log-level", "debug"}, d.extra...)...)
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		d.t.Fatalf("start vmrepd: %v", err)
	}
	d.done = make(chan error, 1)
	go func(c *exec.Cmd, done chan error) { done <- c.Wait() }(d.cmd, d.done)
	cl := client.New(d.socket)
	defer cl.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := cl.ListVGs(context.Background()); err == nil {
			return
		}
		select {
		case err := <-d.done:
			d.t.Fatalf("vmrepd exited at start: %v\n%s", err, d.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("vmrepd did not answer on %s\n%s", d.socket, d.log)
		}
	}
}

// stop ends the daemon with SIGTERM and checks it exits cleanly.
func (d *testDaemon) stop() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("vmrepd exit: %v\n%s", err, d.log)
		}
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		d.t.Errorf("vmrepd did not stop on SIGTERM\n%s", d.log)
	}
	d.cmd = nil
}

// kill ends the daemon with SIGKILL.
func (d *testDaemon) kill() {
	d.cmd.Process.Kill()
	<-d.done
	d.cmd = nil
}

func (d *testDaemon) client(t *testing.T) *client.Client {
	cl := client.New(d.socket)
	t.Cleanup(cl.Close)
	return cl
}

// result is what one CLI run gave.
type result struct {
	stdout, stderr string
	code           int
}

// vmrep runs the CLI against the daemon.
func (d *testDaemon) vmrep(args ...string) result {
	d.t.Helper()
	return runCLI(d.t, exec.Command(filepath.Join(binDir, "vmrep"), append([]string{"--socket", d.socket}, args...)...))
}

func runCLI(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return r
}

// ok runs the CLI and fails the test unless it exits 0.
func (d *testDaemon) ok(args ...string) string {
	d.t.Helper()
	r := d.vmrep(args...)
	if r.code != 0 {
		d.t.Fatalf("vmrep %s: exit %d\nstderr: %s\ndaemon log:\n%s", strings.Join(args, " "), r.code, r.stderr, d.log)
	}
	return r.stdout
}

// okJSON runs the CLI with --json and decodes its output into v.
func (d *testDaemon) okJSON(v any, args ...string) {
	d.t.Helper()
	out := d.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		d.t.Fatalf("vmrep %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// writeImage writes size bytes: random data in the first half, a hole
// after, so that images dedup, compress and have holes to find.
func writeImage(t testing.TB, path string, size int64, seed uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size/2; off += int64(len(buf)) {
		for i := 0; i+8 <= len(buf); i += 8 {
			v := r.Uint64()
			for k := 0; k < 8; k++ {
				buf[i+k] = byte(v >> (8 * k))
			}
		}
		n := min(int64(len(buf)), size/2-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// makeVG writes a boot and a data image and creates a VG of them.
func (d *testDaemon) makeVG(name string, size int64, seed uint64) (boot, data string) {
	d.t.Helper()
	boot = filepath.Join(d.dir, name+"-boot.img")
	data = filepath.Join(d.dir, name+"-data.img")
	writeImage(d.t, boot, size, seed)
	writeImage(d.t, data, size, seed+1)
	d.ok("vg", "create", name, "--boot", boot, "--data", "db="+data)
	return boot, data
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Fatalf("%s and %s differ (%d and %d bytes)", a, b, len(x), len(y))
	}
}

func unixDial(socket string) func(ctx context.Context, _, _ string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}
}

// okJSONResult runs a job command with --json and decodes the result of
// its final NDJSON event into v.
func (d *testDaemon) okJSONResult(v any, args ...string) {
	d.t.Helper()
	out := d.ok(append(args, "--json")...)
	if err := jobResult(out, v); err != nil {
		d.t.Fatalf("vmrep %s --json: %v", strings.Join(args, " "), err)
	}
}

// jobResult decodes the result of the final NDJSON event of a job
// command's --json output into v.
func jobResult(out string, v any) error {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var ev struct {
		State  string          `json:"state"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &ev); err != nil || ev.State != "done" {
		return fmt.Errorf("last event %q (%v)", lines[len(lines)-1], err)
	}
	if err := json.Unmarshal(ev.Result, v); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	return nil
}
