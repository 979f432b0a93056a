package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newReplicaShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show DIR",
		Short: "Show what a replica's state file says: volume group, snapshot, volumes, an apply in progress",
		Example: `  vmrep replica show replica/
  vmrep replica show replica/ --json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			dir, err := absPath(argv[0])
			if err != nil {
				return err
			}
			r, err := a.cl.ShowReplica(cmd.Context(), api.ReplicaDirRequest{Dir: dir})
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(r)
			}
			at := "volumes at different snapshots"
			if r.SnapshotID != "" {
				at = fmt.Sprintf("at %s@%d (%s)", r.VGName, r.Seq, r.SnapshotID)
			}
			fmt.Fprintf(a.stdout, "replica %s of volume group %s (%s), %s\n", r.Dir, r.VGName, r.VGID, at)
			fmt.Fprintf(a.stdout, "state file %s\n", r.StateFile)
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  VOLUME\tID\tROLE\tSIZE\tSNAPSHOT\tFILE")
			for _, v := range r.Volumes {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s@%d\t%s (%s)\n", v.Name, v.ID, v.Role, humanBytes(v.Size),
					r.VGName, v.Seq, v.File, v.Kind)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if j := r.Applying; j != nil {
				fmt.Fprintf(a.stdout, "apply in progress: delta %s from %s to %s, volumes %v\n", j.Delta, j.Base, j.Target, j.Volumes)
			}
			return nil
		},
	}
}
