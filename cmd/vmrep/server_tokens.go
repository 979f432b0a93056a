package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/internal/provision"
)

// tokenFlags are what every `server tokens` command takes.
type tokenFlags struct {
	serverDir, tenancy string
}

func (tf *tokenFlags) register(cmd *cobra.Command, tenancyHelp string) {
	cmd.Flags().StringVar(&tf.serverDir, "server-dir", "", "the server's configuration directory, holding tokens.json (DIR/server of vmrep server provision)")
	cmd.Flags().StringVar(&tf.tenancy, "tenancy", "", tenancyHelp)
}

func (tf *tokenFlags) check() error {
	if tf.serverDir == "" {
		return usagef("--server-dir DIR is required")
	}
	return nil
}

// provisionErr makes the package's usage errors the CLI's (exit 2).
func provisionErr(err error) error {
	if errors.Is(err, provision.ErrUsage) {
		return usagef("%s", strings.TrimPrefix(err.Error(), "provision: "))
	}
	return err
}

func newServerTokensCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "List, create, rotate and revoke a replication server's tokens",
		Long: `Edits the token store (tokens.json) of a replication server's configuration
directory, on the server host or on a copy you then install. A running
vmrepd --tokens rereads the file when it changes: a revoked token is refused
from the next request on, without a restart. The store keeps only hashes;
a token's secret is shown once, when it is made.`,
		Example: `  vmrep server tokens list --server-dir /etc/vmrep
  vmrep server tokens create --tenancy acme --scope replicate --expires 720h --label nice --server-dir /etc/vmrep
  vmrep server tokens rotate --id 3f0c9a1b2c3d4e5f --overlap 24h --token-out new-token --server-dir /etc/vmrep
  vmrep server tokens revoke --id 3f0c9a1b2c3d4e5f --server-dir /etc/vmrep`,
	}
	cmd.AddCommand(newTokensListCmd(a), newTokensCreateCmd(a), newTokensRotateCmd(a), newTokensRevokeCmd(a))
	return cmd
}

func newTokensListCmd(a *app) *cobra.Command {
	var tf tokenFlags
	cmd := &cobra.Command{
		Use:     "list --server-dir DIR [--tenancy NAME]",
		Short:   "List tokens: ID, tenancy, scope, expiry and state, never secrets",
		Example: `  vmrep server tokens list --tenancy acme --server-dir /etc/vmrep`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := tf.check(); err != nil {
				return err
			}
			list, err := provision.ListTokens(tf.serverDir, tf.tenancy, time.Now())
			if err != nil {
				return provisionErr(err)
			}
			if a.json {
				return a.emit(list)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTENANCY\tSCOPE\tLABEL\tCREATED\tEXPIRES\tSTATE")
			for _, t := range list {
				exp := "never"
				if t.Expires != nil {
					exp = t.Expires.Format(time.RFC3339)
				}
				state := t.State
				if t.Revoked != nil && state == "active" {
					state = "active until " + t.Revoked.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Tenancy, t.Scope, t.Label, t.Created.Format(time.RFC3339), exp, state)
			}
			return tw.Flush()
		},
	}
	tf.register(cmd, "list only this tenancy's tokens")
	return cmd
}

// printNew shows a token just made; its secret is shown this once.
func (a *app) printNew(verb string, nt *provision.NewToken) error {
	if a.json {
		return a.emit(nt)
	}
	if nt.NewTenancy {
		fmt.Fprintf(a.stderr, "tenancy %s is new to this token store: a running vmrepd opens a tenancy's store at its start, so restart it to serve %s\n", nt.Tenancy, nt.Tenancy)
	}
	if nt.TokenFile != "" {
		fmt.Fprintf(a.stdout, "token %s %s (tenancy %s, scope %s), written to %s\n", nt.ID, verb, nt.Tenancy, nt.Scope, nt.TokenFile)
		return nil
	}
	fmt.Fprintf(a.stderr, "token %s %s (tenancy %s, scope %s); its secret is shown once, below:\n", nt.ID, verb, nt.Tenancy, nt.Scope)
	fmt.Fprintln(a.stdout, nt.Token)
	return nil
}

func newTokensCreateCmd(a *app) *cobra.Command {
	var tf tokenFlags
	var scope, expires, label, tokenOut string
	cmd := &cobra.Command{
		Use:   "create --tenancy NAME --server-dir DIR [--scope S] [--expires D] [--label L] [--token-out FILE]",
		Short: "Make a token for a tenancy",
		Long: `Adds a token to the store and prints it (or writes it to --token-out, 0600,
never over an existing file). Scopes: read (ask which blobs the server
lacks), replicate (send VG records, blobs and snapshots), admin (also
materialize into block storage on the server).`,
		Example: `  vmrep server tokens create --tenancy acme --label nice --expires 90d --token-out nice.token --server-dir /etc/vmrep`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := tf.check(); err != nil {
				return err
			}
			if tf.tenancy == "" {
				return usagef("--tenancy NAME is required")
			}
			ttl, err := parseTTL(expires)
			if err != nil {
				return usagef("--expires %q: %v", expires, err)
			}
			nt, err := provision.CreateToken(tf.serverDir, tf.tenancy, scope, label, ttl, tokenOut, time.Now())
			if err != nil {
				return provisionErr(err)
			}
			return a.printNew("created", nt)
		},
	}
	tf.register(cmd, "the token's tenancy")
	cmd.Flags().StringVar(&scope, "scope", "replicate", "read, replicate or admin")
	cmd.Flags().StringVar(&expires, "expires", "0", "lifetime (720h, 90d; 0: never)")
	cmd.Flags().StringVar(&label, "label", "", "free text, e.g. the site it is for")
	cmd.Flags().StringVar(&tokenOut, "token-out", "", "write the token to this new file (0600) instead of stdout")
	return cmd
}

func newTokensRotateCmd(a *app) *cobra.Command {
	var tf tokenFlags
	var id, overlap, tokenOut string
	cmd := &cobra.Command{
		Use:   "rotate --id ID --server-dir DIR [--overlap D] [--token-out FILE]",
		Short: "Replace a token: a new secret, the old one revoked after an overlap",
		Long: `Makes a token with the tenancy, scope, label and lifetime of --id and
revokes --id after --overlap (default 0: at once), so that the site can move
to the new token before the old one stops working.`,
		Example: `  vmrep server tokens rotate --id 3f0c9a1b2c3d4e5f --overlap 24h --token-out paris.token --server-dir /etc/vmrep`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := tf.check(); err != nil {
				return err
			}
			if id == "" {
				return usagef("--id ID is required (see vmrep server tokens list)")
			}
			d, err := parseTTL(overlap)
			if err != nil {
				return usagef("--overlap %q: %v", overlap, err)
			}
			nt, err := provision.RotateToken(tf.serverDir, id, tf.tenancy, d, tokenOut, time.Now())
			if err != nil {
				return provisionErr(err)
			}
			return a.printNew("replaces "+id+"; new token", nt)
		},
	}
	tf.register(cmd, "refuse a token of another tenancy")
	cmd.Flags().StringVar(&id, "id", "", "ID of the token to replace")
	cmd.Flags().StringVar(&overlap, "overlap", "0", "how long the old token keeps working (24h; 0: revoked at once)")
	cmd.Flags().StringVar(&tokenOut, "token-out", "", "write the new token to this new file (0600) instead of stdout")
	return cmd
}

func newTokensRevokeCmd(a *app) *cobra.Command {
	var tf tokenFlags
	var id string
	cmd := &cobra.Command{
		Use:     "revoke --id ID --server-dir DIR",
		Short:   "Revoke a token now; a running server refuses it from its next request",
		Example: `  vmrep server tokens revoke --id 3f0c9a1b2c3d4e5f --tenancy acme --server-dir /etc/vmrep`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := tf.check(); err != nil {
				return err
			}
			if id == "" {
				return usagef("--id ID is required (see vmrep server tokens list)")
			}
			ti, err := provision.RevokeToken(tf.serverDir, id, tf.tenancy, time.Now())
			if err != nil {
				return provisionErr(err)
			}
			if a.json {
				return a.emit(ti)
			}
			fmt.Fprintf(a.stdout, "token %s (tenancy %s) revoked\n", ti.ID, ti.Tenancy)
			return nil
		},
	}
	tf.register(cmd, "refuse a token of another tenancy")
	cmd.Flags().StringVar(&id, "id", "", "ID of the token to revoke")
	return cmd
}
