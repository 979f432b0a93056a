package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newVGSetCmd(a *app) *cobra.Command {
	var pre, post, timeout string
	var lvm bool
	cmd := &cobra.Command{
		Use:   "set NAME [--pre-snapshot CMD] [--post-snapshot CMD] [--hook-timeout D] [--lvm-snapshot=true|false]",
		Short: "Change a volume group's consistency hooks and LVM snapshot setting",
		Long: `Change how a volume group is captured. Only the flags given change; an
empty command (--pre-snapshot '') removes that hook, --hook-timeout ''
restores the default timeout.`,
		Example: `  vmrep vg set web --pre-snapshot 'fsfreeze -f /mnt' --post-snapshot 'fsfreeze -u /mnt' --hook-timeout 60s
  vmrep vg set web --lvm-snapshot=false
  vmrep vg set web --pre-snapshot '' --post-snapshot ''`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			var req api.UpdateVGRequest
			f := cmd.Flags()
			if f.Changed("pre-snapshot") {
				req.PreSnapshot = &pre
			}
			if f.Changed("post-snapshot") {
				req.PostSnapshot = &post
			}
			if f.Changed("hook-timeout") {
				req.HookTimeout = &timeout
			}
			if f.Changed("lvm-snapshot") {
				req.LVMSnapshot = &lvm
			}
			if req == (api.UpdateVGRequest{}) {
				return usagef("nothing to change: give --pre-snapshot, --post-snapshot, --hook-timeout or --lvm-snapshot")
			}
			vg, err := a.cl.UpdateVG(cmd.Context(), argv[0], req)
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(vg)
			}
			fmt.Fprintf(a.stdout, "updated volume group %s (%s)\n", vg.Name, vg.ID)
			a.printCapture(vg)
			return nil
		},
	}
	cmd.Flags().StringVar(&pre, "pre-snapshot", "", "shell command run before each capture; '' removes it")
	cmd.Flags().StringVar(&post, "post-snapshot", "", "shell command run after each capture, always; '' removes it")
	cmd.Flags().StringVar(&timeout, "hook-timeout", "", "longest a hook may run; '' restores the default (60s)")
	cmd.Flags().BoolVar(&lvm, "lvm-snapshot", false, "read each volume through a temporary LVM snapshot")
	return cmd
}

// printCapture prints a VG's capture settings, one line each, when set.
func (a *app) printCapture(vg api.VG) {
	if vg.PreSnapshot != "" {
		fmt.Fprintf(a.stdout, "pre-snapshot hook: %s\n", vg.PreSnapshot)
	}
	if vg.PostSnapshot != "" {
		fmt.Fprintf(a.stdout, "post-snapshot hook: %s\n", vg.PostSnapshot)
	}
	if vg.HookTimeout != "" {
		fmt.Fprintf(a.stdout, "hook timeout: %s\n", vg.HookTimeout)
	}
	if vg.LVMSnapshot {
		fmt.Fprintln(a.stdout, "lvm snapshot: yes")
	}
}
