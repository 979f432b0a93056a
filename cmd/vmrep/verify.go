package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newVerifyCmd(a *app) *cobra.Command {
	var readData bool
	cmd := &cobra.Command{
		Use:   "verify [--read-data]",
		Short: "Check every snapshot's manifests and chunks in the store",
		Example: `  vmrep verify
  vmrep verify --read-data   # also read and hash every chunk`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.startingJob()
			j, err := a.cl.Verify(cmd.Context(), api.VerifyRequest{ReadData: readData})
			if err != nil {
				return err
			}
			ev, werr := a.follow(cmd.Context(), j)
			if a.json {
				return werr
			}
			var r api.VerifyResult
			if len(ev.Result) > 0 && json.Unmarshal(ev.Result, &r) == nil {
				for _, p := range r.Problems {
					fmt.Fprintf(a.stdout, "problem: %s\n", oneLine(p))
				}
				for _, name := range sortedKeys(r.Tenancies) {
					for _, p := range r.Tenancies[name].Problems {
						fmt.Fprintf(a.stdout, "problem: tenancy %s: %s\n", name, oneLine(p))
					}
				}
				if werr == nil {
					fmt.Fprintf(a.stdout, "verified %d snapshots (%d volumes), no problems\n", r.Snapshots, r.Volumes)
					for _, name := range sortedKeys(r.Tenancies) {
						t := r.Tenancies[name]
						fmt.Fprintf(a.stdout, "tenancy %s: verified %d snapshots (%d volumes), no problems\n", name, t.Snapshots, t.Volumes)
					}
				}
			}
			return werr
		},
	}
	cmd.Flags().BoolVar(&readData, "read-data", false, "read every chunk and check its hash")
	return cmd
}
