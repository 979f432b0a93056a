package main

import (
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newServerTenanciesCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "tenancies",
		Short: "List the tenancies this replication server hosts, with their usage and quota",
		Long: `Lists the tenancies vmrepd --tenancies FILE hosts besides the server's own
store: for each, the bytes its packs take, its quota, and how many volume
groups and snapshots it holds. Each tenancy has a store of its own
(STORE/tenancies/NAME, and PREFIX/tenancies/NAME in a bucket): nothing is
deduplicated across tenancies, and a token of one sees nothing of another.
Root only: the names of tenancies are the operator's business.`,
		Example: `  vmrep server tenancies
  NAME    STORED   QUOTA    VGS  SNAPSHOTS
  acme    1.2 GiB  100 GiB  3    41
  globex  310 MiB  -        1    7`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := a.cl.ListTenancies(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(r)
			}
			if len(r.Tenancies) == 0 {
				fmt.Fprintln(a.stdout, "no tenancies besides the server's own store (vmrepd --tenancies FILE hosts some)")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTORED\tQUOTA\tVGS\tSNAPSHOTS")
			for _, t := range r.Tenancies {
				quota := "-"
				if t.QuotaBytes > 0 {
					quota = humanBytes(t.QuotaBytes)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", t.Name, humanBytes(t.StoredBytes), quota, t.VGs, t.Snapshots)
			}
			return tw.Flush()
		},
	}
}

// sortedKeys lists a result's tenancies by name.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
