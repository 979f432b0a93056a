package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// run runs the CLI in this process.
func run(argv ...string) result {
	var out, errb bytes.Buffer
	code := execute(argv, &out, &errb)
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// TestUnknownSubcommand walks the command tree: every group refuses a
// subcommand it does not have with "unknown command" and exit 2, as the
// top level does, and a bare group still prints its help. (Before, "vmrep
// snapshot prune" printed the group's help and exited 0.)
func TestUnknownSubcommand(t *testing.T) {
	groups := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.HasSubCommands() {
			return
		}
		groups++
		path := strings.Fields(c.CommandPath())[1:]
		r := run(append(path, "prune")...)
		want := "vmrep: unknown command \"prune\" for \"" + c.CommandPath() + "\"\n"
		if r.code != 2 || r.stderr != want {
			t.Errorf("vmrep %s prune: exit %d, stderr %q; want exit 2 and %q", strings.Join(path, " "), r.code, r.stderr, want)
		}
		if len(path) == 0 || c.Name() == "jobs" { // jobs alone lists jobs
			return
		}
		if r := run(path...); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
			t.Errorf("vmrep %s: exit %d, stdout %q; want its help", strings.Join(path, " "), r.code, r.stdout)
		}
	}
	root := newRoot(&app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	walk(root)
	if groups < 6 {
		t.Fatalf("found %d groups; the walk missed some", groups)
	}
}

// TestNoDaemon: with no daemon on the socket (no file, or nobody listening)
// the CLI says, in one line, that vmrepd is not running and how to start
// it, not only the dial error. (Before: "dial unix ...: no such file or
// directory".)
func TestNoDaemon(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	for _, sock := range []string{filepath.Join(dir, "none.sock"), stale} {
		r := run("--socket", sock, "vg", "list")
		want := "vmrep: vmrepd is not running on " + sock + " (start it with: vmrepd --store DIR --socket " + sock +
			"), or point vmrep at its socket with --socket or VMREP_SOCKET\n"
		if r.code != 1 || r.stderr != want {
			t.Errorf("no daemon on %s: exit %d, stderr %q; want exit 1 and %q", sock, r.code, r.stderr, want)
		}
	}
	t.Setenv("VMREP_SOCKET", filepath.Join(dir, "env.sock"))
	if r := run("snapshot", "list", "web"); r.code != 1 || !strings.Contains(r.stderr, "not running on "+os.Getenv("VMREP_SOCKET")) {
		t.Errorf("no daemon on $VMREP_SOCKET: exit %d, stderr %q", r.code, r.stderr)
	}
}
