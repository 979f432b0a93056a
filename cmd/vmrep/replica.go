package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newReplicaCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replica",
		Short: "Create, show and verify replicas: volume files plus a state file naming their snapshot",
		Example: `  vmrep replica create web@1 --dir replica/
  vmrep delta apply d.vmdelta --replica replica/
  vmrep replica show replica/
  vmrep replica verify replica/`,
	}
	cmd.AddCommand(newReplicaCreateCmd(a), newReplicaShowCmd(a), newReplicaVerifyCmd(a))
	return cmd
}

func newReplicaCreateCmd(a *app) *cobra.Command {
	var dir, vol string
	var force bool
	cmd := &cobra.Command{
		Use:   "create VG@N --dir DIR [--volume ID-or-NAME] [--force]",
		Short: "Write a snapshot's volumes into a replica directory (sparse files named by volume ID)",
		Long: `Writes each volume of the snapshot as DIR/<volume-id>.img (sparse; a symlink
there to a block device is written through) and records the snapshot in
DIR/state.json, last. With --volume only that volume is written, so volumes
can be created one at a time. Deltas then move the replica forward.

A directory that already holds a replica at another snapshot, or of
another volume group, is refused unless --force: writing web@1 over a
replica at web@3 would roll the VM's disks back.`,
		Example: `  vmrep replica create web@1 --dir replica/
  vmrep replica create web@1 --dir replica/ --volume boot
  vmrep replica create web@1 --dir replica/ --volume vol-0123456789abcdef --json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if dir == "" {
				return usagef("--dir DIR is required")
			}
			if _, _, err := parseRef(argv[0]); err != nil {
				return err
			}
			abs, err := absPath(dir)
			if err != nil {
				return err
			}
			a.startingJob()
			j, err := a.cl.CreateReplica(cmd.Context(), api.ReplicaRequest{Snapshot: argv[0], Dir: abs, Volume: vol, Force: force})
			if err != nil {
				return err
			}
			var r api.ReplicaResult
			if show, err := a.await(cmd.Context(), j, &r); !show {
				return err
			}
			fmt.Fprintf(a.stdout, "replica %s of %s:\n", r.Dir, argv[0])
			return a.printReplica(r)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "replica directory (created if absent)")
	cmd.Flags().StringVar(&vol, "volume", "", "only this volume (name or ID)")
	cmd.Flags().BoolVar(&force, "force", false, "write over a replica at another snapshot or of another volume group")
	return cmd
}

func (a *app) printReplica(r api.ReplicaResult) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  VOLUME\tID\tROLE\tSIZE\tSNAPSHOT")
	for _, v := range r.Volumes {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s@%d\n", v.Name, v.ID, v.Role, humanBytes(v.Size), r.VGName, v.Seq)
	}
	return tw.Flush()
}
