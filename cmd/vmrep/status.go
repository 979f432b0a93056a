package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status [VG]",
		Short: "Show where each volume group stands: last snapshot, replication lag and backlog, running transfer, last error",
		Long: `For each volume group (or the one named): its newest local snapshot; for each
replication server this daemon pushed it to, the newest snapshot there, the
lag (now minus when that snapshot was taken: the recovery point the server
holds) and the backlog (bytes of data changed since, not yet there); the
replicate job running now with its rate and ETA; the last failed job; and
the replication schedule when the VG has one. --json prints the whole
report (doc/design.md, "Status", lists every field).`,
		Example: `  vmrep status
  vmrep status web --json`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			var rep api.StatusReport
			var err error
			if len(argv) == 1 {
				rep, err = a.cl.VGStatus(cmd.Context(), argv[0])
			} else {
				rep, err = a.cl.Status(cmd.Context())
			}
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(rep)
			}
			a.printStatus(rep)
			return nil
		},
	}
}

func (a *app) printStatus(rep api.StatusReport) {
	for _, w := range rep.BucketWaits {
		fmt.Fprintf(a.stdout, "job waiting: %s\n", w)
	}
	if len(rep.VGs) == 0 {
		fmt.Fprintln(a.stdout, "no volume groups")
		return
	}
	for i, vg := range rep.VGs {
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		last := "none"
		if vg.LastSnapshot != nil {
			last = fmt.Sprintf("%s (%s, %s ago)", vg.LastSnapshot.Name, vg.LastSnapshot.Created.Local().Format(time.DateTime),
				ago(rep.Time.Sub(vg.LastSnapshot.Created)))
		}
		fmt.Fprintf(a.stdout, "%s: last snapshot %s\n", vg.Name, last)
		if c := vg.CutOver; c != nil {
			fmt.Fprintf(a.stdout, "  CUT OVER at %s to %s (%s): no further scheduled replication\n",
				c.At.Local().Format(time.DateTime), c.Replica, c.Snapshot)
		}
		if len(vg.Targets) == 0 {
			fmt.Fprintln(a.stdout, "  not replicated")
		} else {
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  TARGET\tSNAPSHOT\tLAG\tBACKLOG\tPER VOLUME")
			for _, t := range vg.Targets {
				backlog := humanBytes(t.BacklogBytes)
				if t.BacklogError != "" {
					backlog = "? (" + t.BacklogError + ")"
				}
				var per []string
				for _, v := range t.Volumes {
					per = append(per, v.Name+" "+humanBytes(v.BacklogBytes))
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", t.To, t.Snapshot.Name,
					ago(time.Duration(t.LagSeconds*float64(time.Second))), backlog, strings.Join(per, ", "))
			}
			tw.Flush()
		}
		if t := vg.Transfer; t != nil {
			eta := "-"
			if t.ETASeconds != nil {
				eta = ago(time.Duration(*t.ETASeconds * float64(time.Second)))
			}
			fmt.Fprintf(a.stdout, "  transfer: %s %s (%s) %s, %s of %s at %s/s, ETA %s\n", t.JobID, t.Target, t.State, t.Phase,
				humanBytes(t.DoneBytes), humanBytes(t.TotalBytes), humanBytes(int64(t.RateBytes)), eta)
		}
		if e := vg.LastError; e != nil {
			fmt.Fprintf(a.stdout, "  last error: %s %s %s at %s: %s\n", e.Kind, e.JobID, e.Target, e.Time.Local().Format(time.DateTime), e.Message)
		}
		if sc := vg.Schedule; sc != nil {
			line := "  schedule: every " + sc.Every
			if vg.CutOver != nil {
				line += ", stopped by the cutover"
			} else if sc.Paused {
				line += ", paused"
			}
			if sc.NextRun != nil {
				line += ", next " + sc.NextRun.Local().Format(time.DateTime)
			}
			if sc.LastRun != nil {
				line += ", last " + sc.LastRun.Local().Format(time.DateTime) + " " + sc.LastResult
			}
			if sc.LastError != "" {
				line += ": " + sc.LastError
			}
			fmt.Fprintln(a.stdout, line)
			if sc.RPOSeconds > 0 {
				fmt.Fprintln(a.stdout, "  "+rpoText(sc.RPOSeconds, sc.RPOLagSeconds, sc.RPOBreached, sc.BreachedSince))
			}
		}
	}
}

// ago is a duration rounded for a person: 42s, 5m10s, 3h2m, 2d4h.
func ago(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%dm", d/time.Hour, (d%time.Hour)/time.Minute)
	}
	days := d / (24 * time.Hour)
	return fmt.Sprintf("%dd%dh", days, (d%(24*time.Hour))/time.Hour)
}
