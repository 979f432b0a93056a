package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newJobsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List, show, cancel and watch daemon jobs (list by default)",
		Example: `  vmrep jobs
  vmrep jobs show job-123-4
  vmrep jobs watch job-123-4
  vmrep jobs cancel job-123-4`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.listJobs(cmd) },
	}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "List running and recent jobs",
		Example: "  vmrep jobs list --json", Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.listJobs(cmd) },
	}, &cobra.Command{
		Use: "show ID", Short: "Show one job", Example: "  vmrep jobs show job-123-4", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			j, err := a.cl.GetJob(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			return a.showJob(j)
		},
	}, &cobra.Command{
		Use: "cancel ID", Short: "Cancel a running job", Example: "  vmrep jobs cancel job-123-4", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			j, err := a.cl.CancelJob(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(j)
			}
			fmt.Fprintf(a.stdout, "cancel requested for %s\n", j.ID)
			return nil
		},
	}, &cobra.Command{
		Use: "watch ID", Short: "Follow a job's progress until it ends (NDJSON with --json); Ctrl-C stops watching, not the job",
		Example: "  vmrep jobs watch job-123-4 --json", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			j, err := a.cl.GetJob(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			ev, err := a.watch(cmd.Context(), j)
			if err == nil && !a.json {
				fmt.Fprintf(a.stdout, "job %s %s\n", j.ID, ev.State)
			}
			return err
		},
	})
	return cmd
}

func (a *app) listJobs(cmd *cobra.Command) error {
	jobs, err := a.cl.ListJobs(cmd.Context())
	if err != nil {
		return err
	}
	if a.json {
		return a.emit(jobs)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tTARGET\tSTATE\tSTARTED\tPROGRESS")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Kind, j.Target, j.State,
			j.Started.Local().Format("15:04:05"), progressText(j))
	}
	return tw.Flush()
}

func progressText(j api.Job) string {
	if j.Total <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(j.Done)/float64(j.Total))
}

func (a *app) showJob(j api.Job) error {
	if a.json {
		return a.emit(j)
	}
	fmt.Fprintf(a.stdout, "job %s: %s %s, %s, started %s\n", j.ID, j.Kind, j.Target, j.State, j.Started.Local().Format("2006-01-02 15:04:05"))
	if j.Phase != "" {
		fmt.Fprintf(a.stdout, "phase %s: %d of %d (%s)\n", j.Phase, j.Done, j.Total, progressText(j))
	}
	if j.Error != nil {
		fmt.Fprintf(a.stdout, "error (%s): %s\n", j.Error.Code, oneLine(j.Error.Message))
	}
	return nil
}
