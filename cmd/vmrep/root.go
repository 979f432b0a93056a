package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
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
	root.AddCommand(newReplicateCmd(a), newServerCmd(a))
	return root
}

// execute runs the CLI and returns the exit code.
func execute(argv []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := newRoot(a)
	root.SetArgs(argv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if a.cl != nil {
		a.cl.Close()
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "vmrep: %s\n", oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") {
		return 2
	}
	return 1
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

// parseRef splits "vg@seq", "vg@latest" or "vg" (the latest).
func parseRef(s string) (vg, seq string, err error) {
	vg, seq, ok := strings.Cut(s, "@")
	if vg == "" {
		return "", "", usagef("invalid snapshot %q: want VG@N or VG@latest", s)
	}
	if !ok || seq == "" {
		seq = "latest"
	}
	return vg, seq, nil
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
