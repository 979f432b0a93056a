package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newRestoreCmd(a *app) *cobra.Command {
	var vol, out string
	cmd := &cobra.Command{
		Use:   "restore VG@N --volume NAME -o PATH",
		Short: "Write one volume of a snapshot to an image file or block device",
		Example: `  vmrep restore web@1 --volume boot -o boot.img
  vmrep restore web@latest --volume db -o /dev/vg0/db-restore`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if out == "" {
				return usagef("-o PATH is required")
			}
			if _, _, err := parseRef(argv[0]); err != nil {
				return err
			}
			abs, err := absPath(out)
			if err != nil {
				return err
			}
			a.startingJob()
			j, err := a.cl.Restore(cmd.Context(), api.RestoreRequest{Snapshot: argv[0], Volume: vol, Output: abs})
			if err != nil {
				return err
			}
			ev, err := a.follow(cmd.Context(), j)
			if err != nil || a.json {
				return err
			}
			var r api.RestoreResult
			if err := json.Unmarshal(ev.Result, &r); err != nil {
				return fmt.Errorf("job %s: reading result: %w", j.ID, err)
			}
			fmt.Fprintf(a.stdout, "restored %s volume %s to %s (%s, %s of data)\n", r.Snapshot, r.Volume, r.Output,
				humanBytes(r.Size), humanBytes(r.DataBytes))
			return nil
		},
	}
	cmd.Flags().StringVar(&vol, "volume", "", "volume name (default: the boot volume)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "path to write (created or replaced; a block device is written in place)")
	return cmd
}
