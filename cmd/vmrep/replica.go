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
		Short: "Create, move, show and verify replicas: volume files plus a state file naming their snapshot",
		Example: `  vmrep replica create web@1 --dir replica/
  vmrep delta apply d.vmdelta --replica replica/
  vmrep replica create --at web@1 --dir replica/
  vmrep replica show replica/
  vmrep replica verify replica/`,
	}
	cmd.AddCommand(newReplicaCreateCmd(a), newReplicaShowCmd(a), newReplicaVerifyCmd(a))
	return cmd
}

func newReplicaCreateCmd(a *app) *cobra.Command {
	var dir, vol, at string
	var force bool
	cmd := &cobra.Command{
		Use:   "create VG@N --dir DIR [--volume ID-or-NAME] [--force] | create --at VG@N --dir DIR",
		Short: "Write a snapshot's volumes into a replica directory, or move a replica to another snapshot",
		Long: `Writes each volume of the snapshot as DIR/<volume-id>.img (sparse; a symlink
there to a block device is written through) and records the snapshot in
DIR/state.json, last. With --volume only that volume is written, so volumes
can be created one at a time. Deltas then move the replica forward.

A directory that already holds a replica at another snapshot, or of
another volume group, is refused unless --force: writing web@1 over a
replica at web@3 would roll the VM's disks back. --at moves it instead.

With --at, a replica in DIR at another snapshot of the volume group is
moved to VG@N, forward or back (failback), by the one delta between the
two snapshots, applied as delta apply does (journaled; only changed ranges
are written); it prints how many bytes that wrote. An empty DIR is written
whole. A replica of another volume group, or at a snapshot the store no
longer holds, is refused unless --force, which rewrites it whole.`,
		Example: `  vmrep replica create web@1 --dir replica/
  vmrep replica create web@1 --dir replica/ --volume boot
  vmrep replica create web@1 --dir replica/ --volume vol-0123456789abcdef --json
  vmrep replica create --at web@1 --dir replica/   # failback: from web@3 back to web@1 by one delta`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			switch {
			case at != "" && len(argv) > 0:
				return usagef("give the snapshot as an argument or with --at, not both")
			case at == "" && len(argv) == 0:
				return usagef("a snapshot VG@N (or --at VG@N) is required")
			case at != "" && vol != "":
				return usagef("--at moves every volume of a replica; it takes no --volume")
			case dir == "":
				return usagef("--dir DIR is required")
			}
			ref := at
			if ref == "" {
				ref = argv[0]
			}
			if _, _, err := parseRef(ref); err != nil {
				return err
			}
			abs, err := absPath(dir)
			if err != nil {
				return err
			}
			req := api.ReplicaRequest{Snapshot: ref, Dir: abs, Volume: vol, Force: force, At: at != ""}
			a.startingJob()
			j, err := a.cl.CreateReplica(cmd.Context(), req)
			if err != nil {
				return err
			}
			if req.At {
				return a.awaitReplicaMove(cmd, j, ref)
			}
			var r api.ReplicaResult
			if show, err := a.await(cmd.Context(), j, &r); !show {
				return err
			}
			fmt.Fprintf(a.stdout, "replica %s of %s:\n", r.Dir, ref)
			return a.printReplica(r)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "replica directory (created if absent)")
	cmd.Flags().StringVar(&vol, "volume", "", "only this volume (name or ID)")
	cmd.Flags().StringVar(&at, "at", "", "move the replica in DIR to snapshot `VG@N`, forward or back, by one delta")
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
