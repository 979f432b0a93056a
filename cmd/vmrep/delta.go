package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/delta"
)

func newDeltaCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delta",
		Short: "Export, show and apply delta files between two snapshots",
		Example: `  vmrep delta export web@1 web@2 -o d.vmdelta
  vmrep delta show d.vmdelta
  vmrep delta apply d.vmdelta --replica replica/`,
	}
	cmd.AddCommand(newDeltaExportCmd(a), newDeltaApplyCmd(a), newDeltaShowCmd(a))
	return cmd
}

func newDeltaExportCmd(a *app) *cobra.Command {
	var out, partSize, resume string
	var split, force bool
	cmd := &cobra.Command{
		Use:   "export BASE TARGET -o PATH|- [--split [--part-size SIZE]] [--force] [--resume TOKEN]",
		Short: "Write the delta that turns one snapshot into another",
		Long: `Writes one .vmdelta file, or with --split a directory holding index.vmdelta
and part files of one volume each, none much over --part-size (for upload
limits of object storage). An existing file, or a directory that is not
empty, is refused unless --force.

With -o - the delta goes to stdout as the daemon builds it (nothing is
written on this host), to pipe into vmrep delta apply - on the target,
over ssh for instance. When such a stream is cut, the apply side keeps
what arrived and prints a resume token; --resume TOKEN sends only the
rest. The token grants nothing: the export needs the same rights as a
whole one, and the daemon checks that the bytes before the token's
offset are the ones the receiver holds.`,
		Example: `  vmrep delta export web@1 web@2 -o d.vmdelta
  vmrep delta export web@1 web@2 -o d/ --split --part-size 64MiB
  vmrep delta export web@1 web@2 -o - | ssh dr vmrep delta apply - --replica /srv/replica/web
  vmrep delta export web@1 web@2 --resume TOKEN -o - | ssh dr vmrep delta apply - --replica /srv/replica/web`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if out == "" {
				return usagef("-o PATH is required")
			}
			for _, ref := range argv {
				if _, _, err := parseRef(ref); err != nil {
					return err
				}
			}
			if out == "-" {
				if split || partSize != "" || force {
					return usagef("-o - streams one delta: --split, --part-size and --force do not apply")
				}
				if resume != "" {
					if _, err := delta.ParseResumeToken(resume); err != nil {
						return usagef("--resume: %v", err)
					}
				}
				return a.exportStream(cmd.Context(), api.DeltaStreamRequest{Base: argv[0], Target: argv[1], Resume: resume})
			}
			if resume != "" {
				return usagef("--resume needs -o -: only a stream is resumed")
			}
			req := api.DeltaExportRequest{Base: argv[0], Target: argv[1], Split: split, Force: force}
			if partSize != "" {
				if !split {
					return usagef("--part-size needs --split")
				}
				n, err := parseSize(partSize)
				if err != nil {
					return err
				}
				req.PartSize = n
			}
			var err error
			if req.Output, err = absPath(out); err != nil {
				return err
			}
			a.startingJob()
			j, err := a.cl.ExportDelta(cmd.Context(), req)
			if err != nil {
				return err
			}
			var r api.DeltaExportResult
			if show, err := a.await(cmd.Context(), j, &r); !show {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote delta %s..%s to %s: %d records, %s of data, %s of zeros, %s on disk\n",
				r.Base, r.Target, r.Output, r.Summary.Records, humanBytes(r.Summary.DataBytes),
				humanBytes(r.Summary.ZeroBytes), humanBytes(r.Summary.FileBytes))
			fmt.Fprintf(a.stdout, "digest %s\n", r.Digest)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "delta file, or directory with --split")
	cmd.Flags().BoolVar(&split, "split", false, "write a directory of an index and part files")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing output")
	cmd.Flags().StringVar(&partSize, "part-size", "", "cap on each part file, e.g. 64MiB (default 1GiB)")
	cmd.Flags().StringVar(&resume, "resume", "", "with -o -: send the rest of a cut stream, from the token vmrep delta apply printed")
	return cmd
}

func newDeltaApplyCmd(a *app) *cobra.Command {
	var replica, vol, verify string
	var local bool
	cmd := &cobra.Command{
		Use:   "apply DELTA|- --replica DIR [--volume ID-or-NAME] [--verify none|extents|full] [--local]",
		Short: "Move a replica from the delta's base snapshot to its target",
		Long: `Checks that the replica's state file names the delta's base, hashes every
range the delta touches before writing anything (ranges already at the
target are skipped, so running it again after a crash finishes the job;
anything else refuses the apply and leaves the replica untouched), writes,
and updates the state file last. --verify extents re-hashes what was
written; --verify full checks the whole replica against the target
manifests in the store.

The target host needs no daemon: with --local, or when no vmrepd answers
on the socket, the apply runs in this process with the same checks
(--verify full needs the daemon's store). DELTA - reads a stream from
stdin (vmrep delta export -o -), always in this process: it is spooled
to incoming.vmdelta in the replica's directory and checked whole before
the replica changes. A cut stream leaves the replica unchanged, keeps
what arrived and prints the command that resumes it.`,
		Example: `  vmrep delta apply d.vmdelta --replica replica/
  vmrep delta apply d/ --replica replica/ --verify full
  vmrep delta apply d.vmdelta --replica replica/ --volume vol-0123456789abcdef
  vmrep delta export web@1 web@2 -o - | vmrep delta apply - --replica replica/
  vmrep delta apply d.vmdelta --replica replica/ --local`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if replica == "" {
				return usagef("--replica DIR is required")
			}
			switch verify {
			case "", api.VerifyNone, api.VerifyExtents, api.VerifyFull:
			default:
				return usagef("--verify %q: want none, extents or full", verify)
			}
			dir, err := absPath(replica)
			if err != nil {
				return err
			}
			if argv[0] == "-" || a.inProcess(local) {
				src := argv[0]
				if src != "-" {
					if src, err = absPath(src); err != nil {
						return err
					}
				}
				return a.applyLocal(cmd.Context(), cmd.InOrStdin(), src, dir, vol, verify)
			}
			d, err := absPath(argv[0])
			if err != nil {
				return err
			}
			a.startingJob()
			j, err := a.cl.ApplyDelta(cmd.Context(), api.DeltaApplyRequest{Delta: d, Replica: dir, Volume: vol, Verify: verify})
			if err != nil {
				return err
			}
			var r api.DeltaApplyResult
			if show, err := a.await(cmd.Context(), j, &r); !show {
				return err
			}
			fmt.Fprintf(a.stdout, "applied %s to %s: %d volumes, %d records written, %d already at the target\n",
				r.Delta, r.Replica.Dir, r.Summary.Volumes, r.Summary.Written, r.Summary.Skipped)
			if verify != "" && verify != api.VerifyNone {
				fmt.Fprintf(a.stdout, "verified %d volumes (%s)\n", r.Summary.Verified, verify)
			}
			return a.printReplica(r.Replica)
		},
	}
	cmd.Flags().StringVar(&replica, "replica", "", "replica directory")
	cmd.Flags().StringVar(&vol, "volume", "", "only this volume (name or ID)")
	cmd.Flags().StringVar(&verify, "verify", api.VerifyNone, "check after writing: none, extents or full")
	cmd.Flags().BoolVar(&local, "local", false, "apply in this process, without vmrepd")
	return cmd
}

func newDeltaShowCmd(a *app) *cobra.Command {
	var local bool
	cmd := &cobra.Command{
		Use:   "show DELTA [--local]",
		Short: "Check a delta's checksums and show its header and per-volume records",
		Long: `Reads the whole delta, checks every checksum and sums up its records per
volume. Runs in this process with --local or when no vmrepd answers on
the socket: a target host needs no daemon to look at a delta.`,
		Example: `  vmrep delta show d.vmdelta
  vmrep delta show d/ --json
  vmrep delta show d.vmdelta --local`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			p, err := absPath(argv[0])
			if err != nil {
				return err
			}
			var d api.DeltaInfo
			if a.inProcess(local) {
				d, err = showLocal(cmd.Context(), p)
			} else {
				d, err = a.cl.ShowDelta(cmd.Context(), api.DeltaShowRequest{Delta: p})
			}
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(d)
			}
			kind := "file"
			if d.Split {
				kind = fmt.Sprintf("split, %d parts", len(d.Parts))
			}
			fmt.Fprintf(a.stdout, "delta %s (%s, %s)\n", d.Path, kind, humanBytes(d.FileBytes))
			fmt.Fprintf(a.stdout, "volume group %s (%s): %s@%d (%s) -> %s@%d (%s)\n", d.VGName, d.VGID,
				d.VGName, d.BaseSeq, d.BaseID, d.VGName, d.TargetSeq, d.TargetID)
			fmt.Fprintf(a.stdout, "digest %s\n", d.Digest)
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  VOLUME\tID\tROLE\tSIZE\tRECORDS\tDATA\tZEROS\tCOPIES\tTARGET COPIES\tSTORED")
			for _, v := range d.Volumes {
				size := humanBytes(v.BaseSize) + " -> " + humanBytes(v.TargetSize)
				if v.Added {
					size = "added, " + humanBytes(v.TargetSize)
				} else if v.BaseSize == v.TargetSize {
					size = humanBytes(v.TargetSize)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.ID, v.Role, size, v.Records,
					humanBytes(v.DataBytes), humanBytes(v.ZeroBytes), humanBytes(v.CopyBytes), humanBytes(v.TargetCopyBytes),
					humanBytes(v.StoredBytes))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&local, "local", false, "read the delta in this process, without vmrepd")
	return cmd
}

// parseSize reads a byte count with an optional KiB/MiB/GiB (or K/M/G)
// suffix.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	num, mult := s, int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, usagef("invalid size %q: want a positive number with an optional KiB, MiB or GiB", s)
	}
	return n * mult, nil
}
