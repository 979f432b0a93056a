package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newVGCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vg",
		Short: "Manage volume groups (the disks of one VM)",
		Example: `  vmrep vg create web --boot disk0.img --data db=disk1.img --data logs=disk2.img
  vmrep vg list
  vmrep vg show web
  vmrep vg set web --pre-snapshot 'fsfreeze -f /mnt' --post-snapshot 'fsfreeze -u /mnt'
  vmrep vg delete web`,
	}
	cmd.AddCommand(newVGCreateCmd(a), newVGListCmd(a), newVGShowCmd(a), newVGSetCmd(a), newVGDeleteCmd(a))
	return cmd
}

// volumeFlag parses "name=path", or a bare path that gets defName. A path
// may be an NBD URI (whose query holds a "="), which is passed on as is.
func volumeFlag(v, defName, role string) (api.VolumeSource, error) {
	name, path, ok := strings.Cut(v, "=")
	if isNBDURI(v) {
		name, path, ok = defName, v, true
	}
	if !ok {
		name, path = defName, v
	}
	if name == "" || path == "" {
		return api.VolumeSource{}, usagef("invalid volume %q: want NAME=PATH", v)
	}
	if isNBDURI(path) {
		return api.VolumeSource{Name: name, Role: role, Path: path}, nil
	}
	abs, err := absPath(path)
	return api.VolumeSource{Name: name, Role: role, Path: abs}, err
}

// isNBDURI reports whether a volume names an NBD export rather than a path.
func isNBDURI(s string) bool {
	return strings.HasPrefix(s, "nbd://") || strings.HasPrefix(s, "nbd+unix://")
}

func newVGCreateCmd(a *app) *cobra.Command {
	var boot string
	var data []string
	var hooks api.CreateVGRequest
	cmd := &cobra.Command{
		Use:   "create NAME --boot [NAME=]PATH [--data NAME=PATH]...",
		Short: "Create a volume group from image files or block devices",
		Example: `  vmrep vg create web --boot disk0.img --data db=disk1.img --data logs=disk2.img
  vmrep vg create db --boot root=/dev/vg0/db-root
  # a disk served by qemu-storage-daemon: each snapshot reads only what its dirty bitmap marks
  vmrep vg create vm1 --boot 'nbd+unix:///boot?socket=/run/qsd.sock' --qmp /run/qsd-qmp.sock`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if boot == "" {
				return usagef("--boot is required")
			}
			req := hooks
			if req.QMP != "" {
				abs, err := absPath(req.QMP)
				if err != nil {
					return err
				}
				req.QMP = abs
			}
			req.Name = argv[0]
			v, err := volumeFlag(boot, "boot", api.RoleBoot)
			if err != nil {
				return err
			}
			req.Volumes = append(req.Volumes, v)
			for i, d := range data {
				v, err := volumeFlag(d, fmt.Sprintf("data%d", i+1), api.RoleData)
				if err != nil {
					return err
				}
				req.Volumes = append(req.Volumes, v)
			}
			vg, err := a.cl.CreateVG(cmd.Context(), req)
			if err != nil {
				return err
			}
			for _, w := range vg.Warnings {
				fmt.Fprintf(a.stderr, "vmrep: warning: %s\n", oneLine(w))
			}
			if a.json {
				return a.emit(vg)
			}
			fmt.Fprintf(a.stdout, "created volume group %s (%s)\n", vg.Name, vg.ID)
			return a.printVolumes(vg)
		},
	}
	cmd.Flags().StringVar(&boot, "boot", "", "boot volume: PATH or NAME=PATH (name defaults to boot)")
	cmd.Flags().StringArrayVar(&data, "data", nil, "data volume NAME=PATH (repeatable)")
	cmd.Flags().StringVar(&hooks.PreSnapshot, "pre-snapshot", "", "shell command run before each capture (e.g. fsfreeze -f /mnt)")
	cmd.Flags().StringVar(&hooks.PostSnapshot, "post-snapshot", "", "shell command run after each capture, always")
	cmd.Flags().StringVar(&hooks.HookTimeout, "hook-timeout", "", "longest a hook may run (default 60s)")
	cmd.Flags().StringVar(&hooks.QMP, "qmp", "", "QMP socket of the QEMU process or qemu-storage-daemon serving the NBD volumes: keep dirty bitmaps there and read only what changed")
	cmd.Flags().BoolVar(&hooks.LVMSnapshot, "lvm-snapshot", false, "read each volume (an LVM logical volume) through a temporary LVM snapshot")
	return cmd
}

func newVGListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List volume groups",
		Example: `  vmrep vg list
  vmrep vg list --json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			vgs, err := a.cl.ListVGs(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(vgs)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tID\tVOLUMES\tSIZE\tSNAPSHOTS")
			for _, vg := range vgs {
				var size int64
				for _, v := range vg.Volumes {
					size += v.Size
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\n", vg.Name, vg.ID, len(vg.Volumes), humanBytes(size), vg.Snapshots)
			}
			return tw.Flush()
		},
	}
}

func newVGShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a volume group and its volumes",
		Example: `  vmrep vg show web`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			vg, err := a.cl.GetVG(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(vg)
			}
			fmt.Fprintf(a.stdout, "volume group %s (%s), created %s, %d snapshots\n",
				vg.Name, vg.ID, vg.Created.Local().Format("2006-01-02 15:04:05"), vg.Snapshots)
			a.printCapture(vg)
			return a.printVolumes(vg)
		},
	}
}

func (a *app) printVolumes(vg api.VG) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  VOLUME\tROLE\tSIZE\tFORMAT\tSOURCE")
	for _, v := range vg.Volumes {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", v.Name, v.Role, humanBytes(v.Size), v.Format, v.Source)
	}
	return tw.Flush()
}

func newVGDeleteCmd(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a volume group (refused while it has snapshots, unless --force)",
		Example: `  vmrep vg delete web
  vmrep vg delete web --force`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if err := a.cl.DeleteVG(cmd.Context(), argv[0], force); err != nil {
				return err
			}
			if a.json {
				return a.emit(map[string]any{"deleted": argv[0]})
			}
			fmt.Fprintf(a.stdout, "deleted volume group %s\n", argv[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "also delete the group's snapshot records")
	return cmd
}
