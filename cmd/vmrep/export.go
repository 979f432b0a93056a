package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newExportCmd(a *app) *cobra.Command {
	var vol, out, format string
	cmd := &cobra.Command{
		Use:   "export VG@N [--volume NAME] --format qcow2|raw -o PATH",
		Short: "Write one volume of a snapshot as a QCOW2 or raw image",
		Long: `Writes the volume as a QCOW2 (version 3) image, whose all-zero clusters
stay unallocated, for a hypervisor or a cloud image import; or as a sparse
raw image. The image is written under a temporary name and renamed into
place when complete.`,
		Example: `  vmrep export web@1 --volume boot --format qcow2 -o boot.qcow2
  vmrep export web@latest --volume db --format raw -o db.img`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if out == "" {
				return usagef("-o PATH is required")
			}
			if format != "qcow2" && format != "raw" {
				return usagef("--format %q: want qcow2 or raw", format)
			}
			if _, _, err := parseRef(argv[0]); err != nil {
				return err
			}
			abs, err := absPath(out)
			if err != nil {
				return err
			}
			a.startingJob()
			j, err := a.cl.Export(cmd.Context(), api.ExportRequest{Snapshot: argv[0], Volume: vol, Format: format, Output: abs})
			if err != nil {
				return err
			}
			var r api.ExportResult
			if show, err := a.await(cmd.Context(), j, &r); !show {
				return err
			}
			fmt.Fprintf(a.stdout, "exported %s volume %s as %s to %s (%s volume, %s file)\n", r.Snapshot, r.Volume,
				r.Format, r.Output, humanBytes(r.Size), humanBytes(r.FileBytes))
			return nil
		},
	}
	cmd.Flags().StringVar(&vol, "volume", "", "volume name or ID (default: the boot volume)")
	cmd.Flags().StringVar(&format, "format", "qcow2", "image format: qcow2 or raw")
	cmd.Flags().StringVarP(&out, "output", "o", "", "image path to write")
	return cmd
}
