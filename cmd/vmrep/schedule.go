package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newScheduleCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Snapshot, replicate and thin out a volume group on a schedule kept by vmrepd",
		Long: `A schedule makes vmrepd take a snapshot of a volume group every interval
(hooks included), then replicate it to a server (--replicate-to) or write the
delta since the previous run into a directory (--delta-dir), then apply the
--keep-* retention policy. Each run is a job (vmrep jobs). A run due while
the previous one still runs is skipped and counted; a failed run is retried
after 1m, 2m, 4m ... (at most the interval). Schedules live in the store and
survive a daemon restart; slots missed while the daemon was down are not
caught up.`,
		Example: `  vmrep schedule set web --every 15m --keep-last 8 --keep-hourly 24 --keep-daily 7
  vmrep schedule set web --every 24h --at 02:00 --replicate-to repl.example.net:7443 --token-file token --ca ca.pem
  vmrep schedule list
  vmrep schedule show web
  vmrep schedule pause web
  vmrep schedule delete web`,
	}
	cmd.AddCommand(newScheduleSetCmd(a), newScheduleListCmd(a), newScheduleShowCmd(a),
		newScheduleChangeCmd(a, "pause", "Stop starting runs of a schedule (a running one finishes)",
			func(ctx context.Context, vg string) (api.Schedule, error) { return a.cl.PauseSchedule(ctx, vg) }),
		newScheduleChangeCmd(a, "resume", "Start a paused schedule again from its next slot",
			func(ctx context.Context, vg string) (api.Schedule, error) { return a.cl.ResumeSchedule(ctx, vg) }),
		newScheduleDeleteCmd(a))
	return cmd
}

// keepRules are the --keep-* flags in the order of the policy's form.
var keepRules = []string{"last", "hourly", "daily", "weekly", "monthly", "yearly", "within"}

func newScheduleSetCmd(a *app) *cobra.Command {
	var req api.ScheduleRequest
	var tokenFile, caFile string
	keep := make([]string, len(keepRules))
	cmd := &cobra.Command{
		Use:   "set VG --every DURATION [--at HH:MM] [--replicate-to HOST:PORT --token-file F [--ca CA.pem] [--materialize NAME]] [--delta-dir DIR] [--keep-last N ...]",
		Short: "Create or replace the schedule of a volume group",
		Long: `--every is a duration of at least a minute (15m, 4h, 24h); --at anchors
the runs at that local time (default 00:00), so "--every 24h --at 02:00" runs
at two in the morning and "--every 15m" at :00, :15, :30 and :45. A run
replicates its snapshot as "vmrep replicate" does, with the token and CA
read here and kept by vmrepd, or exports the delta since the previous run's
snapshot into --delta-dir (the first run only takes the base). --keep-*
(a count, or "all"; --keep-within a duration such as 36h or 7d) then
removes the snapshots the policy does not keep, never the newest nor one a
replica, a replication target or the next delta needs. Setting a schedule
again replaces it and keeps its record.

--rpo sets a recovery point objective (a duration of at least a minute):
the schedule's lag is the age of the newest snapshot that reached its
destination (the replication server, the delta directory; the store for a
snapshot-only schedule), counted from when the schedule was set to that
destination until the first one gets there. When the lag passes the RPO, vmrepd logs one warning, sets
vmrep_rpo_breached{vg} to 1 on its /metrics and "vmrep status" says
BREACHED; when a snapshot reaches the destination again it logs once and
clears. --on-rpo-breach CMD is run by vmrepd (sh -c, as root, at most a
minute, its output in vmrepd's log) once at the breach with
VMREP_EVENT=breach and once at the recovery with VMREP_EVENT=clear, with
VMREP_VG, VMREP_VG_ID, VMREP_RPO_SECONDS and VMREP_LAG_SECONDS set. The
state is kept with the schedule: a daemon restart does not fire again.
Before a run gets through the lag is the interval plus the run's time, so
give the RPO room above --every (e.g. --every 15m --rpo 30m).`,
		Example: `  vmrep schedule set web --every 15m --keep-last 4 --keep-hourly 24
  vmrep schedule set web --every 1h --delta-dir /srv/deltas --keep-daily 7
  vmrep schedule set web --every 24h --at 02:00 --replicate-to 10.0.0.5:7443 --token-file token --ca ca.pem --materialize web
  vmrep schedule set web --every 15m --replicate-to 10.0.0.5:7443 --token-file token --rpo 30m --on-rpo-breach '/usr/local/bin/page-oncall'`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if req.Every == "" {
				return usagef("--every DURATION is required")
			}
			if (tokenFile != "" || caFile != "") && req.ReplicateTo == "" {
				return usagef("--token-file and --ca need --replicate-to")
			}
			if req.ReplicateTo != "" && tokenFile == "" {
				return usagef("--replicate-to needs --token-file")
			}
			if err := checkRPOFlags(req); err != nil {
				return err
			}
			var err error
			if req.Token, req.CAPEM, err = readRemoteSecrets(tokenFile, caFile); err != nil {
				return err
			}
			if req.DeltaDir != "" {
				dir, err := absPath(req.DeltaDir)
				if err != nil {
					return err
				}
				req.DeltaDir = dir
			}
			var rules []string
			for i, v := range keep {
				if v != "" {
					rules = append(rules, keepRules[i]+"="+v)
				}
			}
			req.Keep = strings.Join(rules, ",")
			sc, err := a.cl.SetSchedule(cmd.Context(), argv[0], req)
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(sc)
			}
			fmt.Fprintf(a.stdout, "schedule of %s set\n", sc.VG)
			return a.printSchedule(sc)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Every, "every", "", "interval between runs, e.g. 15m or 24h")
	f.StringVar(&req.At, "at", "", "local time HH:MM the runs are anchored to (default 00:00)")
	f.StringVar(&req.ReplicateTo, "replicate-to", "", "replication server HOST:PORT each snapshot is sent to")
	f.StringVar(&tokenFile, "token-file", "", "file holding the replication server's bearer token")
	f.StringVar(&caFile, "ca", "", "CA certificate (PEM) to trust for the replication server")
	f.StringVar(&req.ServerName, "server-name", "", "TLS name to check (default: the host of --replicate-to)")
	f.StringVar(&req.Materialize, "materialize", "", "replica directory the server writes each snapshot into")
	f.StringVar(&req.DeltaDir, "delta-dir", "", "directory each run's delta is written into")
	f.StringVar(&req.Limit, "limit", "", "bandwidth limit on the wire for each run's replication, e.g. 200Mbit (as replicate --limit)")
	f.StringVar(&req.RPO, "rpo", "", "recovery point objective: warn when the newest snapshot at the destination is older, e.g. 30m")
	f.StringVar(&req.OnRPOBreach, "on-rpo-breach", "", "command vmrepd runs (sh -c) when the RPO is breached (VMREP_EVENT=breach) and when it clears (VMREP_EVENT=clear)")
	for i, r := range keepRules {
		what := "keep the newest snapshot of each of the N newest " + map[string]string{"hourly": "hours", "daily": "days",
			"weekly": "weeks", "monthly": "months", "yearly": "years"}[r] + " (N or all)"
		switch r {
		case "last":
			what = "keep the N newest snapshots (N or all)"
		case "within":
			what = "keep every snapshot taken within this duration of the newest (36h, 7d, 2w)"
		}
		f.StringVar(&keep[i], "keep-"+r, "", what)
	}
	return cmd
}

// checkRPOFlags checks --rpo and --on-rpo-breach before asking the daemon.
func checkRPOFlags(req api.ScheduleRequest) error {
	if req.RPO == "" {
		if req.OnRPOBreach != "" {
			return usagef("--on-rpo-breach needs --rpo")
		}
		return nil
	}
	if d, err := time.ParseDuration(req.RPO); err != nil || d < time.Minute {
		return usagef("--rpo %q: want a duration of at least a minute, e.g. 30m or 2h", req.RPO)
	}
	return nil
}

// readRemoteSecrets reads a replication server's token and CA files, as
// replicate and schedule set do: the daemon never opens them. An empty
// name reads nothing.
func readRemoteSecrets(tokenFile, caFile string) (token, caPEM string, err error) {
	if tokenFile != "" {
		tok, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", "", fmt.Errorf("--token-file: %w", err)
		}
		if token = strings.TrimSpace(string(tok)); token == "" {
			return "", "", fmt.Errorf("--token-file %s is empty", tokenFile)
		}
	}
	if caFile != "" {
		ca, err := os.ReadFile(caFile)
		if err != nil {
			return "", "", fmt.Errorf("--ca: %w", err)
		}
		caPEM = string(ca)
	}
	return token, caPEM, nil
}

func newScheduleListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the schedules with their next and last runs",
		Example: `  vmrep schedule list`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := a.cl.ListSchedules(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(list)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VG\tEVERY\tAT\tTHEN\tKEEP\tNEXT\tLAST\tOK\tFAILED\tSKIPPED")
			for _, sc := range list {
				st := sc.Status
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", sc.VG, sc.Every, sc.At, scheduleAction(sc),
					orDash(sc.Keep), nextText(sc), lastText(st), st.RunsOK, st.RunsFailed, st.RunsSkipped)
			}
			return tw.Flush()
		},
	}
}

func newScheduleShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "show VG",
		Short:   "Show a schedule and how its runs went",
		Example: `  vmrep schedule show web --json`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			sc, err := a.cl.GetSchedule(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(sc)
			}
			return a.printSchedule(sc)
		},
	}
}

func newScheduleChangeCmd(a *app, verb, short string, change func(ctx context.Context, vg string) (api.Schedule, error)) *cobra.Command {
	return &cobra.Command{
		Use:     verb + " VG",
		Short:   short,
		Example: "  vmrep schedule " + verb + " web",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			sc, err := change(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(sc)
			}
			fmt.Fprintf(a.stdout, "schedule of %s %sd; next run: %s\n", sc.VG, verb, nextText(sc))
			return nil
		},
	}
}

func newScheduleDeleteCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "delete VG",
		Aliases: []string{"rm"},
		Short:   "Delete the schedule of a volume group (its snapshots stay)",
		Example: `  vmrep schedule delete web`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if err := a.cl.DeleteSchedule(cmd.Context(), argv[0]); err != nil {
				return err
			}
			if a.json {
				return a.emit(map[string]string{"deleted": argv[0]})
			}
			fmt.Fprintf(a.stdout, "schedule of %s deleted\n", argv[0])
			return nil
		},
	}
}

func (a *app) printSchedule(sc api.Schedule) error {
	st := sc.Status
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "volume group:\t%s\n", sc.VG)
	fmt.Fprintf(tw, "every:\t%s at %s\n", sc.Every, sc.At)
	fmt.Fprintf(tw, "then:\t%s\n", scheduleAction(sc))
	fmt.Fprintf(tw, "keep:\t%s\n", orDash(sc.Keep))
	if sc.Limit != "" {
		fmt.Fprintf(tw, "limit:\t%s\n", sc.Limit)
	}
	if st := sc.RPOState; st != nil {
		fmt.Fprintf(tw, "rpo:\t%s\n", rpoText(st.RPOSeconds, st.LagSeconds, st.Breached, st.BreachedSince))
		if sc.OnRPOBreach != "" {
			fmt.Fprintf(tw, "on rpo breach:\t%s\n", sc.OnRPOBreach)
		}
	}
	fmt.Fprintf(tw, "next run:\t%s\n", nextText(sc))
	if st.Running != "" {
		fmt.Fprintf(tw, "running:\tjob %s\n", st.Running)
	}
	fmt.Fprintf(tw, "last run:\t%s\n", lastText(st))
	if st.LastSnapshot != "" {
		fmt.Fprintf(tw, "last snapshot:\t%s\n", st.LastSnapshot)
	}
	if st.LastError != "" {
		fmt.Fprintf(tw, "last error:\t%s: %s\n", localTime(st.LastErrorTime), st.LastError)
	}
	fmt.Fprintf(tw, "runs:\t%d ok, %d failed (%d in a row), %d skipped; %d snapshots removed\n",
		st.RunsOK, st.RunsFailed, st.Failures, st.RunsSkipped, st.Removed)
	return tw.Flush()
}

// rpoText is "RPO 30m ok (lag 12m0s)" or "RPO 30m BREACHED since ...".
func rpoText(rpo, lag float64, breached bool, since *time.Time) string {
	text := "RPO " + shortDuration(time.Duration(rpo*float64(time.Second)))
	lagText := ago(time.Duration(lag * float64(time.Second)))
	if breached {
		return fmt.Sprintf("%s BREACHED since %s (lag %s)", text, localTime(since), lagText)
	}
	return fmt.Sprintf("%s ok (lag %s)", text, lagText)
}

// shortDuration is d without its zero tail: 30m, 2h, 1h30m, 90s as 1m30s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func scheduleAction(sc api.Schedule) string {
	switch {
	case sc.ReplicateTo != "" && sc.Materialize != "":
		return "replicate to " + sc.ReplicateTo + ", materialize " + sc.Materialize
	case sc.ReplicateTo != "":
		return "replicate to " + sc.ReplicateTo
	case sc.DeltaDir != "":
		return "delta into " + sc.DeltaDir
	}
	return "snapshot only"
}

func nextText(sc api.Schedule) string {
	if sc.Paused {
		return "paused"
	}
	return localTime(sc.Status.NextRun)
}

func lastText(st api.ScheduleStatus) string {
	if st.LastRun == nil {
		return "-"
	}
	return fmt.Sprintf("%s %s (%s)", localTime(st.LastRun), st.LastResult,
		(time.Duration(st.LastDuration * float64(time.Second))).Round(time.Millisecond))
}

func localTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
