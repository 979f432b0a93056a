package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newStackCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stack",
		Short: "Generate OpenTofu/Terraform stacks that build and move replicas",
		Example: `  vmrep stack generate web@1 --target local --out stack-v1/
  vmrep stack generate web@1..web@2 --delta d.vmdelta --target local --out stack-v2/`,
	}
	cmd.AddCommand(newStackGenerateCmd(a))
	return cmd
}

func newStackGenerateCmd(a *app) *cobra.Command {
	var target, out, deltaPath string
	cmd := &cobra.Command{
		Use:   "generate VG@N | VG@A..VG@B --delta DELTA --target local|oci --out DIR",
		Short: "Write a stack that replicates a snapshot, or moves a replica with a delta",
		Long: `The first stack (VG@N) creates a replica at that snapshot; a delta stack
(VG@A..VG@B with the delta between them) moves a replica from A to B.
Target local uses terraform_data resources whose provisioners run vmrep,
and vmrep's own provider, which make deps puts in tofu's local mirror, so
tofu init and apply work offline; the replica goes to ../replica-VG next to
the stack unless replica_dir is set, and every plan fails when the replica
or the delta drifted from what the stack made. Target oci describes the
same volume group as Oracle Cloud resources written by a replication server
in the tenancy (vmrep server stack): block volumes attached to the server,
written there by vmrep replicate --materialize --device, detached, and an
instance booting from them; write a delta stack over the first one's
directory and it moves only the changed volumes, in place. The stack names
each volume by its ID and the manifest and delta digests it applies; see
its README.md.`,
		Example: `  vmrep stack generate web@1 --target local --out stack-v1/
  vmrep stack generate web@1..web@2 --delta d.vmdelta --target local --out stack-v2/
  vmrep stack generate web@1 --target oci --out oci-v1/ --json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if out == "" {
				return usagef("--out DIR is required")
			}
			if target != "local" && target != "oci" {
				return usagef("--target %q: want local or oci", target)
			}
			base, tgt, isRange := strings.Cut(argv[0], "..")
			if isRange != (deltaPath != "") {
				return usagef("a delta stack takes VG@A..VG@B and --delta; a first stack VG@N and no --delta")
			}
			refs := []string{base}
			if isRange {
				if !strings.Contains(tgt, "@") { // VG@A..B: B of the same VG
					vg, _, _ := strings.Cut(base, "@")
					tgt = vg + "@" + tgt
				}
				refs = append(refs, tgt)
			}
			for _, ref := range refs {
				if _, _, err := parseRef(ref); err != nil {
					return err
				}
			}
			req := api.StackRequest{Snapshot: argv[0], Target: target}
			var err error
			if req.Out, err = absPath(out); err != nil {
				return err
			}
			if deltaPath != "" {
				if req.Delta, err = absPath(deltaPath); err != nil {
					return err
				}
			}
			r, err := a.cl.GenerateStack(cmd.Context(), req)
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(r)
			}
			what := "replicates " + r.Snapshot
			if r.Base != "" {
				what = fmt.Sprintf("moves a replica from %s to %s (delta %s)", r.Base, r.Snapshot, r.DeltaDigest)
			}
			fmt.Fprintf(a.stdout, "wrote %s stack in %s that %s\n", r.Target, r.Out, what)
			fmt.Fprintf(a.stdout, "files: %s\n", strings.Join(r.Files, " "))
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "target", "local", "local or oci")
	cmd.Flags().StringVar(&out, "out", "", "stack directory (created; a previous stack of the VG is updated)")
	cmd.Flags().StringVar(&deltaPath, "delta", "", "delta file or split directory, for VG@A..VG@B")
	return cmd
}
