package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newCutoverCmd(a *app) *cobra.Command {
	var dir, ready, accel string
	var timeout time.Duration
	var memory int
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "cutover VG --replica DIR [--dry-run] [--timeout 5m] [--ready REGEX]",
		Short: "Final sync into a replica and launch it for real: the VM moves to the replica",
		Long: `Moves the VM onto its replica, in five steps, each reported as it ends:

  1. snapshot  runs the VG's pre-snapshot hook (quiesce or stop the source
               VM there) and takes the final snapshot;
  2. apply     applies the delta from the replica's snapshot to the final
               one to DIR (journaled, as delta apply);
  3. verify    checks every volume of DIR against the final snapshot;
  4. launch    boots DIR for real in QEMU, on the replica's own files, not on
               overlays, and waits for readiness (as vmrep launch --test);
               the VM keeps running, owned by vmrepd;
  5. mark      marks the VG cut over: its schedule no longer runs, vmrep
               status says so, and DIR is no longer written by vmrep
               (replica create, delta apply and cutover refuse it).

A step that fails stops the cutover and leaves the VG not cut over. Test
the replica first with vmrep launch --test. --dry-run checks the VG and the
replica and prints the steps without doing any.`,
		Example: `  vmrep cutover web --replica replica/ --dry-run
  vmrep cutover web --replica replica/
  vmrep cutover web --replica replica/ --timeout 10m --json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if dir == "" {
				return usagef("--replica DIR is required")
			}
			if timeout < 0 {
				return usagef("--timeout %s: want a positive duration", timeout)
			}
			if memory < 0 {
				return usagef("--memory %d: want a positive number of MiB", memory)
			}
			switch accel {
			case "", api.AccelAuto, api.AccelKVM, api.AccelTCG:
			default:
				return usagef("--accel %q: want auto, kvm or tcg", accel)
			}
			abs, err := absPath(dir)
			if err != nil {
				return err
			}
			a.startingJob()
			j, err := a.cl.Cutover(cmd.Context(), argv[0], api.CutoverRequest{Replica: abs, DryRun: dryRun,
				Timeout: timeout, Ready: ready, Accel: accel, MemoryMiB: memory})
			if err != nil {
				return err
			}
			var r api.CutoverResult
			if show, err := a.await(cmd.Context(), j, &r); !show {
				return err
			}
			a.printCutover(r)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "replica", "", "the replica directory the VM moves to")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and print the steps; change nothing")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "how long the launch may take to readiness (default as vmrep launch: 2m)")
	cmd.Flags().StringVar(&ready, "ready", "", "readiness pattern on the serial console (default as vmrep launch)")
	cmd.Flags().StringVar(&accel, "accel", "", "auto, kvm or tcg (default auto)")
	cmd.Flags().IntVar(&memory, "memory", 0, "the guest's memory in MiB (default 512)")
	return cmd
}

func (a *app) printCutover(r api.CutoverResult) {
	if r.DryRun {
		fmt.Fprintf(a.stdout, "cutover of %s to %s (dry run; replica at %s), would:\n", r.VG, r.Replica, r.From)
	} else {
		fmt.Fprintf(a.stdout, "cut over %s to %s: %s → %s\n", r.VG, r.Replica, r.From, r.Snapshot)
	}
	for i, s := range r.Steps {
		fmt.Fprintf(a.stdout, "  %d. %-9s%s\n", i+1, s.Name, s.Detail)
	}
	if l := r.Launch; l != nil && !r.DryRun {
		fmt.Fprintf(a.stdout, "the VM runs under vmrepd as instance %s (vmrep launch list; vmrep launch stop %s)\n", l.Instance, l.Instance)
	}
}
