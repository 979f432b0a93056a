package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newDiffCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "diff BASE TARGET",
		Short: "Show what changed per volume between two snapshots of a volume group",
		Long: `Compares the manifests of two snapshots without reading chunk data: equal
manifest pages are skipped unread. Per volume it prints the change
(unchanged, modified, added, removed), the changed bytes, extents and chunks,
and how many manifest pages were read and skipped.`,
		Example: `  vmrep diff web@1 web@2
  vmrep diff web@1 web@latest --json`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			for _, ref := range argv {
				if _, _, err := parseRef(ref); err != nil {
					return err
				}
			}
			d, err := a.cl.Diff(cmd.Context(), api.DiffRequest{Base: argv[0], Target: argv[1]})
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(d)
			}
			fmt.Fprintf(a.stdout, "diff %s..%s\n", d.Base, d.Target)
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  VOLUME\tCHANGE\tSIZE\tCHANGED\tEXTENTS\tCHUNKS\tPAGES READ\tPAGES SKIPPED")
			for _, v := range d.Volumes {
				size := humanBytes(v.TargetSize)
				if v.BaseSize != v.TargetSize && v.Change != api.ChangeAdded && v.Change != api.ChangeRemoved {
					size = humanBytes(v.BaseSize) + " -> " + size
				} else if v.Change == api.ChangeRemoved {
					size = humanBytes(v.BaseSize)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", v.Name, v.Change, size,
					humanBytes(v.ChangedBytes), v.Extents, v.ChangedChunks, v.PagesRead, v.PagesSkipped)
			}
			return tw.Flush()
		},
	}
}
