package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newServerCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Replication servers: provision one into your cloud tenancy",
		Example: `  vmrep server stack --target oci --out server-stack/
  vmrep server provision --tenancy acme --site paris --server-name repl.example.com --out prov/
  vmrep server tokens list --server-dir prov/server`,
	}
	cmd.AddCommand(newServerStackCmd(a), newServerProvisionCmd(a), newServerTokensCmd(a), newServerTenanciesCmd(a))
	return cmd
}

func newServerStackCmd(a *app) *cobra.Command {
	var target, out, name string
	var port int
	cmd := &cobra.Command{
		Use:   "stack --target oci --out DIR [--name NAME] [--port PORT]",
		Short: "Write an OpenTofu stack that provisions a replication server (vmrepd --listen)",
		Long: `Writes a stack with an instance whose cloud-init installs vmrepd and starts it
with the replication listener under TLS and a bearer token (passed as
sensitive variables), and an Object Storage bucket for its packs. Its
"address" output is what vmrep replicate --to wants. vmrepd keeps the
server's packs in that bucket (--backend s3://..., through Object Storage's
S3-compatible endpoint, with a customer secret key passed as sensitive
variables); vmrep replicate --materialize then writes them into block
storage. The daemon writes the stack, as for vmrep stack generate. Only
--target oci exists; locally, run vmrepd --listen yourself.`,
		Example: `  vmrep server stack --target oci --out server-stack/
  cd server-stack && tofu init && tofu apply -var-file=server.tfvars
  vmrep replicate web@1 --to "$(tofu output -raw address)" --token-file token --ca ca.pem`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--out DIR is required")
			}
			abs, err := absPath(out)
			if err != nil {
				return err
			}
			r, err := a.cl.GenerateServerStack(cmd.Context(), api.ServerStackRequest{Target: target, Out: abs, Name: name, Port: port})
			if err != nil {
				return err
			}
			if a.json {
				return a.emit(r)
			}
			fmt.Fprintf(a.stdout, "replication server stack (%s) written to %s: %v\n", r.Target, r.Out, r.Files)
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "target", "oci", "where to provision: oci")
	cmd.Flags().StringVar(&out, "out", "", "stack directory (created if absent)")
	cmd.Flags().StringVar(&name, "name", "vmrep-repl", "display name of the server and prefix of its bucket")
	cmd.Flags().IntVar(&port, "port", 7443, "TCP port of the replication listener")
	return cmd
}
