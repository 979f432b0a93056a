package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newSnapshotCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "snapshot",
		Aliases: []string{"snap"},
		Short:   "Create, list, show, delete, forget and pin snapshots (named VG@N or VG@latest)",
		Example: `  vmrep snapshot create web
  vmrep snapshot list web
  vmrep snapshot show web@latest
  vmrep snapshot delete web@1
  vmrep snapshot forget web --keep-last 3 --keep-daily 7 --dry-run
  vmrep snapshot pin web@2 --note "before the upgrade"`,
	}
	cmd.AddCommand(newSnapshotCreateCmd(a), newSnapshotListCmd(a), newSnapshotShowCmd(a), newSnapshotDeleteCmd(a),
		newSnapshotForgetCmd(a), newSnapshotPinCmd(a), newSnapshotUnpinCmd(a))
	return cmd
}

func newSnapshotCreateCmd(a *app) *cobra.Command {
	var detach, full bool
	cmd := &cobra.Command{
		Use:   "create VG",
		Short: "Snapshot every volume of a volume group (waits, with progress, unless --detach)",
		Long: `Starts a snapshot job and waits for it, with progress on a terminal. Ctrl-C
while it waits cancels the job (nothing is committed) and exits 130. With
--detach the job goes on in the daemon: the CLI prints its ID and exits.`,
		Example: `  vmrep snapshot create web
  vmrep snapshot create web --detach   # prints the job id
  vmrep snapshot create web --json     # NDJSON progress events
  vmrep snapshot create web --full     # read everything, ignoring changed-block hints`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			a.startingJob()
			j, err := a.cl.CreateSnapshot(cmd.Context(), argv[0], api.CreateSnapshotRequest{Full: full})
			if err != nil {
				return err
			}
			if detach {
				if a.json {
					return a.emit(j)
				}
				fmt.Fprintln(a.stdout, j.ID)
				fmt.Fprintf(a.stderr, "vmrep: job %s goes on in vmrepd; follow it with: vmrep jobs watch %s (or cancel it with: vmrep jobs cancel %s)\n", j.ID, j.ID, j.ID)
				return nil
			}
			ev, err := a.follow(cmd.Context(), j)
			if err != nil || a.json {
				return err
			}
			var s api.Snapshot
			if err := json.Unmarshal(ev.Result, &s); err != nil {
				return fmt.Errorf("job %s: reading result: %w", j.ID, err)
			}
			fmt.Fprintf(a.stdout, "created snapshot %s@%d (%s)\n", s.VGName, s.Seq, s.ID)
			return a.printSnapshotVolumes(s)
		},
	}
	cmd.Flags().BoolVar(&detach, "detach", false, "start the job and print its id without waiting")
	cmd.Flags().BoolVar(&full, "full", false, "read every volume whole, ignoring changed-block hints")
	return cmd
}

func newSnapshotListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list VG",
		Aliases: []string{"ls"},
		Short:   "List a volume group's snapshots with sizes and what each added",
		Example: `  vmrep snapshot list web`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			snaps, err := a.cl.ListSnapshots(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(snaps)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SNAPSHOT\tID\tCREATED\tSIZE\tDATA\tNEW\tDEDUP\tPINNED")
			for _, s := range snaps {
				var size, data, added int64
				for _, v := range s.Volumes {
					size, data, added = size+v.Size, data+v.DataBytes, added+v.NewBytes
				}
				fmt.Fprintf(tw, "%s@%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.VGName, s.Seq, s.ID,
					s.Created.Local().Format("2006-01-02 15:04:05"), humanBytes(size), humanBytes(data),
					humanBytes(added), dedup(data, added), pinColumn(s.Pin))
			}
			return tw.Flush()
		},
	}
}

// pinColumn says whether and why a snapshot is pinned.
func pinColumn(p *api.SnapshotPin) string {
	switch {
	case p == nil:
		return "-"
	case p.Note == "":
		return "yes"
	}
	return "yes: " + p.Note
}

// dedup is the share of a snapshot's data the store already had.
func dedup(data, added int64) string {
	if data == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(data-added)/float64(data))
}

func newSnapshotShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show VG@N",
		Short: "Show a snapshot and its volumes",
		Example: `  vmrep snapshot show web@1
  vmrep snapshot show web@latest --json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			vg, seq, err := parseRef(argv[0])
			if err != nil {
				return err
			}
			s, err := a.cl.GetSnapshot(cmd.Context(), vg, seq)
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(s)
			}
			fmt.Fprintf(a.stdout, "snapshot %s@%d (%s), created %s\n", s.VGName, s.Seq, s.ID,
				s.Created.Local().Format("2006-01-02 15:04:05"))
			if s.Parent != "" {
				fmt.Fprintf(a.stdout, "parent %s\n", s.Parent)
			}
			if s.Pin != nil {
				fmt.Fprintf(a.stdout, "pinned %s\n", pinColumn(s.Pin))
			}
			return a.printSnapshotVolumes(s)
		},
	}
}

func (a *app) printSnapshotVolumes(s api.Snapshot) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  VOLUME\tROLE\tSIZE\tDATA\tCHUNKS\tHOLES\tNEW\tSTORED\tMANIFEST")
	for _, v := range s.Volumes {
		m := v.Manifest
		if len(m) > 12 {
			m = m[:12]
		}
		stored := "unknown" // recorded before vmrep counted it
		if v.StoredBytes != nil {
			stored = humanBytes(*v.StoredBytes)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", v.Name, v.Role, humanBytes(v.Size),
			humanBytes(v.DataBytes), v.Chunks, v.Holes, humanBytes(v.NewBytes), stored, m)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// How a source that tracks its writes (a QEMU dirty bitmap) was read.
	for _, v := range s.Volumes {
		if v.ReadNote != "" {
			fmt.Fprintf(a.stdout, "  %s: read %s: %s\n", v.Name, humanBytes(v.ReadBytes), v.ReadNote)
		}
	}
	return nil
}

func newSnapshotDeleteCmd(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete VG@N [--force]",
		Short: "Delete one snapshot's record (its chunks stay until garbage collection)",
		Long: `Deletes exactly the snapshot named: VG@N, or VG@latest spelt out. A snapshot
that a replica this daemon wrote is at, or the last one pushed to a
replication server, is what the next delta or push builds on: deleting it
needs --force, as does deleting one pinned with vmrep snapshot pin.`,
		Example: `  vmrep snapshot delete web@1
  vmrep snapshot delete web@latest
  vmrep snapshot delete web@3 --force   # even though a replica is at it`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			vg, seq, err := parseRef(argv[0])
			if err != nil {
				return err
			}
			if err := a.cl.DeleteSnapshot(cmd.Context(), vg, seq, force); err != nil {
				return err
			}
			if a.json {
				return a.emit(map[string]any{"deleted": argv[0]})
			}
			fmt.Fprintf(a.stdout, "deleted snapshot %s\n", argv[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete even a snapshot a known replica or replication target builds on, or a pinned one")
	return cmd
}
