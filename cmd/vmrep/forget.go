package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newSnapshotForgetCmd(a *app) *cobra.Command {
	var req api.ForgetRequest
	cmd := &cobra.Command{
		Use:   "forget VG --keep-last N [--keep-hourly N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--keep-within D] [--dry-run]",
		Short: "Delete the snapshots a retention policy does not keep (as restic forget)",
		Long: `Applies a retention policy to a volume group's snapshots and deletes those it
does not keep; their chunks stay until garbage collection (vmrep gc).

--keep-last N keeps the N newest snapshots; --keep-hourly, -daily, -weekly,
-monthly and -yearly N keep the newest snapshot of each of the N newest
hours, days, ISO weeks, months or years (in the daemon's time zone) that
have one; -1 keeps every such period. When a rule's count is not used up,
the oldest snapshot is kept too. --keep-within D keeps every snapshot taken
less than D (36h, 7d, 2w) before the newest one.

Whatever the policy, the newest snapshot is kept, and so is every snapshot
that a replica is at (here, or materialized on this replication server),
that was the last pushed to a replication server, or that is pinned
(vmrep snapshot pin). At least one rule is required. --dry-run prints what
would be removed and changes nothing.`,
		Example: `  vmrep snapshot forget web --keep-last 3 --keep-daily 7 --dry-run
  vmrep snapshot forget web --keep-hourly 24 --keep-daily 7 --keep-weekly 4
  vmrep snapshot forget web --keep-within 2d --json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if req == (api.ForgetRequest{DryRun: req.DryRun}) {
				return usagef("snapshot forget needs at least one --keep-* rule (an empty policy would remove all but the newest snapshot)")
			}
			for _, c := range []struct {
				flag string
				n    int
			}{{"keep-last", req.Last}, {"keep-hourly", req.Hourly}, {"keep-daily", req.Daily},
				{"keep-weekly", req.Weekly}, {"keep-monthly", req.Monthly}, {"keep-yearly", req.Yearly}} {
				if c.n < -1 {
					return usagef("--%s %d: want a count of 0 or more, or -1 for all", c.flag, c.n)
				}
			}
			res, err := a.cl.Forget(cmd.Context(), argv[0], req)
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(res)
			}
			return a.printForget(res)
		},
	}
	f := cmd.Flags()
	f.IntVar(&req.Last, "keep-last", 0, "keep the N newest snapshots")
	f.IntVar(&req.Hourly, "keep-hourly", 0, "keep the newest snapshot of each of the N newest hours (-1: all)")
	f.IntVar(&req.Daily, "keep-daily", 0, "keep the newest snapshot of each of the N newest days (-1: all)")
	f.IntVar(&req.Weekly, "keep-weekly", 0, "keep the newest snapshot of each of the N newest ISO weeks (-1: all)")
	f.IntVar(&req.Monthly, "keep-monthly", 0, "keep the newest snapshot of each of the N newest months (-1: all)")
	f.IntVar(&req.Yearly, "keep-yearly", 0, "keep the newest snapshot of each of the N newest years (-1: all)")
	f.StringVar(&req.Within, "keep-within", "", "keep every snapshot taken less than D (36h, 7d, 2w) before the newest")
	f.BoolVar(&req.DryRun, "dry-run", false, "print what would be removed; delete nothing")
	return cmd
}

func (a *app) printForget(res api.ForgetResult) error {
	fmt.Fprintf(a.stdout, "policy %s on %s: keep %d snapshots, remove %d\n", res.Policy, res.VG, len(res.Keep), len(res.Remove))
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SNAPSHOT\tCREATED\tDECISION\tREASONS")
	for _, d := range res.Keep {
		fmt.Fprintf(tw, "%s@%d\t%s\tkeep\t%s\n", res.VG, d.Seq, d.Created.Local().Format("2006-01-02 15:04:05"), strings.Join(d.Reasons, ", "))
	}
	for _, d := range res.Remove {
		what := "remove"
		switch {
		case res.DryRun:
			what = "would remove"
		case !d.Removed:
			what = "remove (not done)"
		}
		fmt.Fprintf(tw, "%s@%d\t%s\t%s\t\n", res.VG, d.Seq, d.Created.Local().Format("2006-01-02 15:04:05"), what)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.DryRun {
		fmt.Fprintln(a.stdout, "dry run: nothing deleted")
	}
	return nil
}

func newSnapshotPinCmd(a *app) *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:   "pin VG@N [--note TEXT]",
		Short: "Pin a snapshot: forget keeps it and delete needs --force",
		Example: `  vmrep snapshot pin web@3 --note "before the upgrade"
  vmrep snapshot pin web@latest`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			vg, seq, err := parseRef(argv[0])
			if err != nil {
				return err
			}
			s, err := a.cl.PinSnapshot(cmd.Context(), vg, seq, note)
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(s)
			}
			fmt.Fprintf(a.stdout, "pinned snapshot %s@%d (%s)\n", s.VGName, s.Seq, s.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why it is pinned, shown by list and show")
	return cmd
}

func newSnapshotUnpinCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "unpin VG@N",
		Short:   "Remove a snapshot's pin",
		Example: `  vmrep snapshot unpin web@3`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			vg, seq, err := parseRef(argv[0])
			if err != nil {
				return err
			}
			if err := a.cl.UnpinSnapshot(cmd.Context(), vg, seq); err != nil {
				return err
			}
			if a.json {
				return a.emit(map[string]any{"unpinned": argv[0]})
			}
			fmt.Fprintf(a.stdout, "unpinned snapshot %s\n", argv[0])
			return nil
		},
	}
}
