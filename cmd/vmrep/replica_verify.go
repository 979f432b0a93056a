package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newReplicaVerifyCmd(a *app) *cobra.Command {
	var local bool
	cmd := &cobra.Command{
		Use:   "verify DIR [--local]",
		Short: "Check every volume file of a replica against the snapshot its state file names",
		Long: `Reads every volume file of the replica (files or block devices) and
compares it with the snapshot state.json names: chunk by chunk against the
snapshot's manifest while the daemon has the snapshot, so a mismatch has
an offset; otherwise by chunking the bytes again into a manifest ID and
comparing it with the one state.json records, which tells whether the
volume is right but not where it differs. Exits 1 when any volume differs.

With --local, or when no vmrepd answers on the socket (a replica host
needs none), the check runs in this process, by chunking again: there is
no store to hold the snapshot.`,
		Example: `  vmrep replica verify replica/
  vmrep replica verify replica/ --json
  vmrep replica verify replica/ --local`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			dir, err := absPath(argv[0])
			if err != nil {
				return err
			}
			if a.inProcess(local) {
				return a.verifyLocal(cmd.Context(), dir)
			}
			j, err := a.cl.VerifyReplica(cmd.Context(), api.ReplicaDirRequest{Dir: dir})
			if err != nil {
				return err
			}
			ev, werr := a.follow(cmd.Context(), j)
			if a.json {
				return werr
			}
			var r api.ReplicaVerifyResult
			if len(ev.Result) > 0 && json.Unmarshal(ev.Result, &r) == nil {
				if err := a.printReplicaChecks(r); err != nil {
					return err
				}
			}
			return werr
		},
	}
	cmd.Flags().BoolVar(&local, "local", false, "verify in this process, without vmrepd")
	return cmd
}

func (a *app) printReplicaChecks(r api.ReplicaVerifyResult) error {
	fmt.Fprintf(a.stdout, "replica %s of %s:\n", r.Dir, r.VGName)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  VOLUME\tID\tSNAPSHOT\tAGAINST\tRESULT")
	for _, c := range r.Volumes {
		res := "OK"
		switch {
		case c.OK:
		case c.MismatchOffset >= 0:
			res = fmt.Sprintf("MISMATCH at offset %d (%d bytes; %d differing ranges in all)", c.MismatchOffset, c.MismatchLength, c.Mismatches)
		default:
			res = "MISMATCH: " + c.Problem
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s@%d\t%s\t%s\n", c.Name, c.ID, r.VGName, c.Seq, c.Against, res)
	}
	return tw.Flush()
}
