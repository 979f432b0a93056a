package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemonOp names the ingest rows timed through vmrepd, as users run it.
const daemonOp = "snapshot-create (vmrepd)"

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// daemonIngest times a cold `vmrep snapshot create` of img through a real
// vmrepd on a fresh store, the path users take, and reads the daemon's own
// peak RSS (VmHWM) and the CPU it spent on the snapshot from /proc. The
// engine-level rows (vmrepbench) stay beside it: the difference is what the
// daemon, the API and the job machinery cost.
func (b *bench) daemonIngest(ctx context.Context, w, img string, size int64) (Row, error) {
	dir := b.path("daemon-" + w)
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Row{}, err
	}
	// The socket goes in a short temp dir: a Unix socket path may not
	// exceed 107 bytes, and -work may be long.
	sockDir, err := os.MkdirTemp("", "vmrepd-")
	if err != nil {
		return Row{}, err
	}
	defer os.RemoveAll(sockDir)
	store, sock := filepath.Join(dir, "store"), filepath.Join(sockDir, "s")
	var logb bytes.Buffer
	d := exec.CommandContext(ctx, filepath.Join(b.bin, "vmrepd"), "--store", store, "--socket", sock, "--log-level", "warn")
	d.Stdout, d.Stderr = &logb, &logb
	if err := d.Start(); err != nil {
		return Row{}, fmt.Errorf("start vmrepd: %w", err)
	}
	defer func() {
		d.Process.Signal(syscall.SIGTERM)
		d.Wait()
	}()
	if err := waitSocket(sock, 30*time.Second); err != nil {
		return Row{}, fmt.Errorf("vmrepd on %s: %w: %s", w, err, tail(logb.String()))
	}
	cli := func(args ...string) (measured, error) {
		return runChild(ctx, nil, append([]string{filepath.Join(b.bin, "vmrep"), "--socket", sock}, args...)...)
	}
	if _, err := cli("vg", "create", "bench", "--boot", img); err != nil {
		return Row{}, err
	}
	if err := warm(img); err != nil {
		return Row{}, err
	}
	cpu0, err := procCPU(d.Process.Pid)
	if err != nil {
		return Row{}, err
	}
	m, err := cli("snapshot", "create", "bench")
	if err != nil {
		return Row{}, err
	}
	cpu1, err := procCPU(d.Process.Pid)
	if err != nil {
		return Row{}, err
	}
	hwm, err := procHWM(d.Process.Pid)
	if err != nil {
		return Row{}, err
	}
	r := Row{Workload: w, Tool: "vmrep", Op: daemonOp, Bytes: size, Seconds: m.Wall, Wall: m.Wall,
		MBps: float64(size) / m.Wall / 1e6, RSSMiB: float64(hwm) / 1024, Repo: duBytes(store),
		Extra: map[string]float64{"daemon_cpu_s": cpu1 - cpu0}}
	return r, nil
}

func waitSocket(path string, limit time.Duration) error {
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no socket %s after %s", path, limit)
}

// procCPU is the user and system CPU seconds process pid has spent.
func procCPU(pid int) (float64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which may hold spaces, closed by ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return float64(ut+st) / clockTicks, nil
}

// procHWM is process pid's peak resident set (VmHWM), in KiB.
func procHWM(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

// peerVersions asks each installed peer for its version, one line each.
func peerVersions(ctx context.Context, peers map[string]bool) map[string]string {
	argv := map[string][]string{
		"restic": {"restic", "version"}, "borg": {"borg", "--version"}, "casync": {"casync", "--version"},
		"xdelta3": {"xdelta3", "-V"}, "rsync": {"rsync", "--version"},
	}
	vs := map[string]string{}
	for p := range peers {
		a, ok := argv[p]
		if !ok {
			continue
		}
		out, _ := exec.CommandContext(ctx, a[0], a[1:]...).CombinedOutput()
		if line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n"); line != "" {
			vs[p] = line
		}
	}
	if peers["desync"] {
		vs["desync"] = goBuildVersion("desync")
	}
	return vs
}

// goBuildVersion names a Go tool's module version from its build info, for
// tools such as desync that have no version command.
func goBuildVersion(tool string) string {
	path, err := exec.LookPath(tool)
	if err != nil {
		return "unknown"
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	v := bi.Main.Path + " " + bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v + ", built with " + bi.GoVersion
}
