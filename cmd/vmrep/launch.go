package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newLaunchCmd(a *app) *cobra.Command {
	var snap, dir, ready, accel string
	var timeout time.Duration
	var memory int
	var checks []string
	cmd := &cobra.Command{
		Use:   "launch --test VG@N --replica DIR [--timeout 2m] [--ready REGEX] [--check CMD]...",
		Short: "Boot a replica in QEMU to prove it boots (a test launch: the replica is never written)",
		Long: `Boots the replica's boot volume, with its data volumes attached, in QEMU
(qemu-system-x86_64) run by the daemon, and waits until the guest is ready.

The replica is never written: every volume is booted through a
copy-on-write overlay in a directory of the daemon's, removed with the VM.
The VM is always torn down at the end, also when it failed and when this
command is killed: the daemon owns it (Ctrl-C cancels the launch job).

  --test VG@N     the snapshot the replica must be at (its state.json); a
                  replica at another snapshot is refused, naming its own.
  --ready REGEX   readiness: a line on the guest's serial console (ttyS0)
                  matching REGEX. The default matches a login prompt or
                  systemd reaching the multi-user target, so a guest that
                  knows nothing of vmrep can be tested.
  --check CMD     after readiness, run CMD (sh -c) in the guest through
                  qemu-guest-agent and print its output; a non-zero exit,
                  or a guest without the agent, fails the launch.
  --accel         auto (KVM when /dev/kvm is usable, TCG when it is not or
                  when KVM cannot run the guest; the result says why), kvm
                  or tcg.

Each volume is a virtio disk whose serial number is its volume ID
(/sys/block/vdX/serial in a Linux guest), boot volume first. The firmware
is BIOS, or UEFI (OVMF) when the boot volume has an EFI system partition.
The launch fails at once when the firmware finds nothing to boot or the
kernel panics, and after --timeout otherwise; it then prints the reason
and the console's last lines and exits 1.`,
		Example: `  vmrep launch --test web@2 --replica replica/
  vmrep launch --test web@2 --replica replica/ --timeout 5m --check 'cat /etc/hostname'
  vmrep launch --test web@2 --replica replica/ --ready 'myapp: listening' --json
  vmrep launch list
  vmrep launch stop vm-1`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if snap == "" && dir == "" { // a bare group prints its help
				return cmd.Help()
			}
			if snap == "" || dir == "" {
				return usagef("--test VG@N and --replica DIR are required (only test launches are run from here)")
			}
			if _, _, err := parseRef(snap); err != nil {
				return err
			}
			switch accel {
			case api.AccelAuto, api.AccelKVM, api.AccelTCG:
			default:
				return usagef("--accel %q: want auto, kvm or tcg", accel)
			}
			if memory <= 0 {
				return usagef("--memory %d: want a positive number of MiB", memory)
			}
			if timeout <= 0 {
				return usagef("--timeout %s: want a positive duration", timeout)
			}
			abs, err := absPath(dir)
			if err != nil {
				return err
			}
			a.startingJob()
			j, err := a.cl.Launch(cmd.Context(), api.LaunchRequest{Dir: abs, Snapshot: snap, Test: true,
				Timeout: timeout, Ready: ready, Accel: accel, Checks: checks, MemoryMiB: memory})
			if err != nil {
				return err
			}
			ev, werr := a.follow(cmd.Context(), j)
			if a.json {
				return werr
			}
			var r api.LaunchResult
			if len(ev.Result) > 0 && json.Unmarshal(ev.Result, &r) == nil {
				a.printLaunch(r)
			}
			return werr
		},
	}
	cmd.Flags().StringVar(&snap, "test", "", "test launch: the snapshot VG@N the replica must be at")
	cmd.Flags().StringVar(&dir, "replica", "", "replica directory")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long the guest has to become ready")
	cmd.Flags().StringVar(&ready, "ready", "", "readiness pattern on the serial console (default: a login prompt or systemd's multi-user target)")
	cmd.Flags().StringVar(&accel, "accel", api.AccelAuto, "accelerator: auto, kvm or tcg")
	cmd.Flags().IntVar(&memory, "memory", 512, "the guest's memory in MiB")
	cmd.Flags().StringArrayVar(&checks, "check", nil, "command to run in the guest after readiness (repeatable)")
	cmd.AddCommand(newLaunchListCmd(a), newLaunchStopCmd(a))
	return cmd
}

func (a *app) printLaunch(r api.LaunchResult) {
	w := a.stdout
	accel := r.Accel
	if r.AccelNote != "" {
		accel += " (" + r.AccelNote + ")"
	}
	if r.Ready {
		fmt.Fprintf(w, "%s in %s: ready after %.1f s (%s, %s)\n", r.Snapshot, r.Dir, r.BootSeconds, r.Firmware, accel)
		fmt.Fprintf(w, "  ready line: %s\n", r.ReadyLine)
	} else {
		fmt.Fprintf(w, "%s in %s: NOT READY after %.1f s (%s, %s): %s\n", r.Snapshot, r.Dir, r.BootSeconds, r.Firmware, accel, r.Reason)
	}
	fmt.Fprintf(w, "  volumes (disk serials, boot first): %s\n", strings.Join(r.Volumes, " "))
	for _, c := range r.Checks {
		fmt.Fprintf(w, "check %q: exit %d\n", c.Command, c.ExitCode)
		for _, l := range strings.Split(strings.TrimRight(c.Stdout, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
		if c.Stderr != "" {
			fmt.Fprintf(w, "  stderr: %s\n", strings.TrimSpace(c.Stderr))
		}
	}
	if !r.Ready || r.Reason != "" {
		if len(r.FirmwareLog) > 0 {
			fmt.Fprintf(w, "firmware log (last %d lines):\n", len(r.FirmwareLog))
			for _, l := range r.FirmwareLog {
				fmt.Fprintf(w, "  %s\n", l)
			}
		}
		fmt.Fprintf(w, "console (last %d lines):\n", len(r.Console))
		for _, l := range r.Console {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	if r.Instance != "" {
		fmt.Fprintf(w, "running as instance %s (stop it with: vmrep launch stop %s)\n", r.Instance, r.Instance)
	}
}

func newLaunchListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the VMs the daemon runs from replicas (launched for real, by a cutover)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			vms, err := a.cl.ListInstances(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(vms)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSNAPSHOT\tREPLICA\tPID\tACCEL\tFIRMWARE\tSTARTED\tSTATE")
			for _, v := range vms {
				state := "running"
				if !v.Running {
					state = "stopped"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", v.ID, v.Snapshot, v.Dir, v.PID, v.Accel, v.Firmware,
					v.Started.Format(time.RFC3339), state)
			}
			return tw.Flush()
		},
	}
}

func newLaunchStopCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "stop ID",
		Short:   "Stop a VM the daemon runs from a replica (QMP quit, then kill) and forget it",
		Example: `  vmrep launch stop vm-1`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if err := a.cl.StopInstance(cmd.Context(), argv[0]); err != nil {
				return err
			}
			if a.json {
				return a.emit(map[string]string{"stopped": argv[0]})
			}
			fmt.Fprintf(a.stdout, "stopped %s\n", argv[0])
			return nil
		},
	}
}
