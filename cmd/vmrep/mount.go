package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newMountCmd(a *app) *cobra.Command {
	var allowOther, list, force bool
	var cacheSize string
	cmd := &cobra.Command{
		Use:   "mount DIR [--allow-other] [--cache-size 256MiB] [--force] | mount --list",
		Short: "Serve every snapshot read-only at DIR through FUSE",
		Long: `The daemon mounts the store at DIR: DIR/<vg>/<seq>/<volume>.img for every
snapshot, DIR/<vg>/latest, and DIR/<vg>/<seq>/snapshot.json. New snapshots
appear without a remount. The mount lasts until "vmrep umount DIR"; the
daemon serves it again after a restart. A directory that is not empty is
refused unless --force: the mount would hide its files.`,
		Example: `  vmrep mount /mnt/vmrep
  mount -o loop,ro /mnt/vmrep/web/latest/boot.img /mnt/web
  vmrep mount --list
  vmrep umount /mnt/vmrep`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if list {
				if len(argv) > 0 {
					return usagef("--list takes no directory")
				}
				return a.listMounts(cmd.Context())
			}
			if len(argv) != 1 {
				return usagef("mount needs a directory (or --list)")
			}
			dir, err := absPath(argv[0])
			if err != nil {
				return err
			}
			req := api.MountRequest{Dir: dir, AllowOther: allowOther, Force: force}
			if cacheSize != "" {
				if req.CacheSize, err = parseSize(cacheSize); err != nil {
					return err
				}
			}
			info, err := a.cl.Mount(cmd.Context(), req)
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(info)
			}
			fmt.Fprintf(a.stdout, "mounted the store at %s (cache %s)\n", info.Dir, humanBytes(info.CacheSize))
			return nil
		},
	}
	cmd.Flags().BoolVar(&allowOther, "allow-other", false, "let users other than root read the mount")
	cmd.Flags().StringVar(&cacheSize, "cache-size", "", "memory for decompressed chunks, e.g. 256MiB (the default)")
	cmd.Flags().BoolVar(&list, "list", false, "list the daemon's mounts")
	cmd.Flags().BoolVar(&force, "force", false, "mount over a directory that is not empty, hiding its files")
	return cmd
}

func newMountsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "mounts",
		Short: "List the daemon's FUSE mounts (same as mount --list)",
		Args:  args(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.listMounts(cmd.Context()) },
	}
}

func newUmountCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "umount DIR",
		Aliases: []string{"unmount"},
		Short:   "Unmount a FUSE mount of the store",
		Example: `  vmrep umount /mnt/vmrep`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			dir, err := absPath(argv[0])
			if err != nil {
				return err
			}
			if err := a.cl.Unmount(cmd.Context(), dir); err != nil {
				return err
			}
			if !a.json {
				fmt.Fprintf(a.stdout, "unmounted %s\n", dir)
			}
			return nil
		},
	}
}

func (a *app) listMounts(ctx context.Context) error {
	infos, err := a.cl.ListMounts(ctx)
	if err != nil {
		return err
	}
	if a.json {
		return a.emit(infos)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DIR\tCACHE\tALLOW-OTHER\tSINCE")
	for _, m := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", m.Dir, humanBytes(m.CacheSize), m.AllowOther, m.Since.Local().Format(time.DateTime))
	}
	return tw.Flush()
}
