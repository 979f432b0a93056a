package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
	"github.com/vmrep/vmrep/internal/version"
)

// app is the state every command shares.
type app struct {
	socket string
	json   bool
	stdout io.Writer
	stderr io.Writer
	cl     *client.Client
	intr   interrupts
}

// usageError marks a mistake in how the command was called: exit code 2.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// args wraps a cobra argument check so that its failure is a usage error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "vmrep",
		Short: "Snapshot, restore and replicate VM disks through vmrepd",
		Example: `  vmrep vg create web --boot disk0.img --data db=disk1.img
  vmrep snapshot create web
  vmrep restore web@1 --volume boot -o boot.img`,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			a.cl = client.New(a.socket)
		},
	}
	def := os.Getenv(api.SocketEnv)
	if def == "" {
		def = api.DefaultSocket()
	}
	root.PersistentFlags().StringVar(&a.socket, "socket", def, "daemon socket path (env "+api.SocketEnv+")")
	root.PersistentFlags().BoolVar(&a.json, "json", false, "machine-readable JSON output on stdout")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.AddCommand(newVGCmd(a), newSnapshotCmd(a), newRestoreCmd(a), newVerifyCmd(a), newJobsCmd(a),
		newDiffCmd(a), newReplicaCmd(a), newDeltaCmd(a), newStackCmd(a), newExportCmd(a), newGCCmd(a),
		newMountCmd(a), newMountsCmd(a), newUmountCmd(a))
	root.AddCommand(newReplicateCmd(a), newServerCmd(a), newScheduleCmd(a), newStatusCmd(a), newLaunchCmd(a), newCutoverCmd(a))
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every group (a command that only holds
// subcommands) refuse an argument that names none of them, as the top
// level does: cobra would print the group's help and exit 0, so a typo
// such as "vmrep snapshot prune" looked like success. A bare group still
// prints its help.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		refuseUnknownSubcommands(c)
	}
	if cmd.HasParent() && cmd.HasSubCommands() && !cmd.Runnable() {
		cmd.Args = args(cobra.NoArgs)
		cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
}

// exitInterrupted is the exit code after Ctrl-C (128 + SIGINT), as shells
// report a command killed by it.
const exitInterrupted = 130

// execute runs the CLI and returns the exit code.
func execute(argv []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := newRoot(a)
	root.SetArgs(argv)
	ctx, stop := a.handleSignals()
	defer stop()
	err := root.ExecuteContext(ctx)
	if a.cl != nil {
		a.cl.Close()
	}
	if err == nil {
		return 0
	}
	var ue usageError
	var ie interruptedError
	switch {
	case errors.As(err, &ie):
		fmt.Fprintf(stderr, "vmrep: %s\n", oneLine(err.Error()))
		return exitInterrupted
	case a.interrupted():
		fmt.Fprintf(stderr, "vmrep: interrupted: %s\n", oneLine(err.Error()))
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "vmrep: %s\n", oneLine(explain(err, a.socket).Error()))
	switch {
	case errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag"):
		return 2
	}
	return 1
}

// explain rewrites errors whose cause the user can act on. A dial that
// finds no socket, or nobody listening on it, means the daemon is not
// running: say so and how to start it, not just the errno.
func explain(err error, socket string) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" &&
		(errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)) {
		return fmt.Errorf("vmrepd is not running on %s (start it with: vmrepd --store DIR --socket %s), or point vmrep at its socket with --socket or %s",
			socket, socket, api.SocketEnv)
	}
	return err
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// emit writes v as one JSON document.
func (a *app) emit(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// absPath makes a path absolute, since the daemon resolves nothing
// against the client's working directory.
func absPath(p string) (string, error) {
	if p == "" {
		return "", usagef("empty path")
	}
	return filepath.Abs(p)
}

// nameRE is the daemon's rule for VG names (engine/volume); identifiers
// match it too.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// parseRef checks a snapshot reference and splits it. The grammar is
// VG@N (N = 1, 2, ..., plain decimal) or VG@latest, nothing else: a bare
// "web" or "web@" is refused, so that a command (a delete above all)
// never picks a snapshot nobody named. Every command that takes a
// reference goes through here, so a malformed one gives the same message
// and exit 2 everywhere; the daemon's volume.ParseRef says the same.
func parseRef(s string) (vg, seq string, err error) {
	vg, seq, ok := strings.Cut(s, "@")
	if !ok || !nameRE.MatchString(vg) || !validSeq(seq) {
		return "", "", usagef("invalid snapshot reference %q: want VG@N (N = 1, 2, ...) or VG@latest", s)
	}
	return vg, seq, nil
}

func validSeq(seq string) bool {
	if seq == "latest" {
		return true
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	return err == nil && n > 0 && seq[0] != '0' && seq[0] != '+'
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
