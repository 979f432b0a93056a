package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/provision"
)

func newServerProvisionCmd(a *app) *cobra.Command {
	var o provision.Options
	var out, expires, target, name string
	var sites int
	var ips []string
	cmd := &cobra.Command{
		Use:   "provision --tenancy NAME --out DIR [--site NAME]... [--sites N] [--server-name DNS]... [--server-ip IP]...",
		Short: "Write a tenancy's CA, server certificate, per-site tokens and server configuration",
		Long: `Writes, locally and without a daemon, what one tenancy needs to replicate to
a replication server:

  DIR/ca/                 the CA (ECDSA P-256) and its key: keep it with you
  DIR/server/             copy to the server: its certificate and key, the
                          token store (tokens.json: each token's ID, tenancy,
                          scope, expiry and only a hash of its secret) and
                          vmrepd.env with the flags to start vmrepd with
  DIR/clients/TENANCY/SITE/  for each source site: its token and the CA

Every file is 0600, every directory 0700. Run it again with another
--tenancy on the same DIR to add a tenancy to the server: the CA and the
server certificate are kept (the certificate is reissued only when a new
--server-name or --server-ip must be in it) and the token store is merged.
A tenancy already provisioned there is refused; add sites to it with
vmrep server tokens create. Nothing is written when an option is wrong.

Tokens have the scope --scope (replicate: send snapshots; admin: also
materialize them into block storage on the server; read: only ask what the
server holds) and expire after --expires (0: never).

With --target oci the daemon also writes the server stack (as vmrep server
stack does) into DIR/stack, taking a token store instead of one token, and
DIR/stack/provisioned.auto.tfvars.json (0600) carries the provisioned
certificate, key and token store into its sensitive variables. The
instance's address is not known before tofu apply: name it with
--server-name (a DNS name you point at it), or provision again with
--server-ip once you know it, which reissues the certificate. Later token
changes (vmrep server tokens … --server-dir DIR/server) take effect when
you copy DIR/server/tokens.json to /etc/vmrep/tokens.json on the instance.`,
		Example: `  vmrep server provision --tenancy acme --site paris --site lyon \
      --server-name repl.example.com --server-ip 203.0.113.7 --expires 8760h --out prov/
  scp -r prov/server/ repl.example.com:/etc/vmrep/
  # on the server, with --install-dir /etc/vmrep given above:
  vmrepd --store /var/lib/vmrep $VMREPD_REPLICATION
  # at the paris site:
  vmrep replicate web@1 --to repl.example.com:7443 \
      --token-file prov/clients/acme/paris/token --ca prov/clients/acme/paris/ca.pem
  # a second tenancy on the same server:
  vmrep server provision --tenancy globex --sites 1 --out prov/
  # a server in OCI, its stack with this configuration:
  vmrep server provision --tenancy acme --sites 2 --server-name repl.example.com --target oci --out oci-prov/
  cd oci-prov/stack && tofu init && tofu apply -var-file=server.tfvars`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--out DIR is required")
			}
			if o.Tenancy == "" {
				return usagef("--tenancy NAME is required")
			}
			if sites < 0 || sites > 1000 {
				return usagef("--sites %d: between 1 and 1000", sites)
			}
			if sites > 0 && len(o.Sites) > 0 {
				return usagef("--sites and --site do not go together")
			}
			for i := 1; i <= sites; i++ {
				o.Sites = append(o.Sites, "site-"+strconv.Itoa(i))
			}
			if len(o.Sites) == 0 {
				o.Sites = []string{"site-1"}
			}
			for _, s := range ips {
				ip := net.ParseIP(s)
				if ip == nil {
					return usagef("--server-ip %q is not an IP address", s)
				}
				o.ServerIPs = append(o.ServerIPs, ip)
			}
			ttl, err := parseTTL(expires)
			if err != nil {
				return usagef("--expires %q: %v", expires, err)
			}
			if target != "" && target != "oci" {
				return usagef("--target %q: only oci", target)
			}
			o.TTL, o.Now = ttl, time.Now()
			r, err := provision.Provision(out, o)
			if errors.Is(err, provision.ErrUsage) {
				return usagef("%s", strings.TrimPrefix(err.Error(), "provision: "))
			}
			if err != nil {
				return err
			}
			var stack *api.ServerStackResult
			if target != "" {
				if stack, err = a.provisionStack(cmd.Context(), r, o.Listen, target, name); err != nil {
					return err
				}
			}
			if a.json {
				return a.emit(struct {
					*provision.Result
					Stack *api.ServerStackResult `json:"stack,omitempty"`
				}{r, stack})
			}
			fmt.Fprintf(a.stdout, "tenancy %s provisioned in %s\n", r.Tenancy, r.Out)
			if r.CACreated {
				fmt.Fprintf(a.stdout, "  CA created: %s/ca (keep its key off the server)\n", r.Out)
			}
			if r.ServerCertIssued {
				fmt.Fprintf(a.stdout, "  server certificate issued\n")
			}
			fmt.Fprintf(a.stdout, "  server config: %s (token store %s, flags in %s)\n", r.ServerDir, r.TokenStore, r.EnvFile)
			for _, c := range r.Clients {
				fmt.Fprintf(a.stdout, "  site %s: token %s (%s) in %s, CA %s\n", c.Site, c.TokenID, c.Scope, c.TokenFile, c.CAFile)
			}
			if stack != nil {
				fmt.Fprintf(a.stdout, "  server stack (%s) in %s: %v, with %s\n", stack.Target, stack.Out, stack.Files, provisionedTFVars)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Tenancy, "tenancy", "", "the tenancy to provision (lower-case letters, digits and -)")
	f.StringVar(&out, "out", "", "directory to write into (created 0700; an existing one gets the tenancy added)")
	f.StringArrayVar(&o.Sites, "site", nil, "a source site to make a token for (repeat for several)")
	f.IntVar(&sites, "sites", 0, "make tokens for N sites named site-1 … site-N")
	f.StringArrayVar(&o.ServerNames, "server-name", nil, "DNS name the server's certificate names (repeat for several)")
	f.StringArrayVar(&ips, "server-ip", nil, "IP address the server's certificate names (repeat for several)")
	f.StringVar(&o.Scope, "scope", "replicate", "scope of the sites' tokens: read, replicate or admin")
	f.StringVar(&expires, "expires", "0", "token lifetime (720h, 90d; 0: never)")
	f.StringVar(&o.Listen, "listen", "0.0.0.0:7443", "address vmrepd.env has the server listen on")
	f.StringVar(&target, "target", "", "also write the server stack for this cloud (oci) into DIR/stack, the provisioned certificate and token store in its tfvars (needs the daemon)")
	f.StringVar(&name, "name", "vmrep-repl", "with --target: display name of the server and prefix of its bucket")
	f.StringVar(&o.InstallDir, "install-dir", "", "where DIR/server will lie on the server, for the paths in vmrepd.env (default: DIR/server's absolute path)")
	return cmd
}

// parseTTL reads a lifetime: a Go duration, a number of days ("90d"), or
// "0" for never.
func parseTTL(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, errors.New("want a duration such as 720h or 90d")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("want a duration such as 720h or 90d")
	}
	return d, nil
}

// provisionedTFVars is the file, in the server stack's directory, that
// carries the provisioned certificate, key and token store into the stack's
// sensitive variables; OpenTofu reads *.auto.tfvars.json by itself.
const provisionedTFVars = "provisioned.auto.tfvars.json"

// provisionStack has the daemon write the server stack with a token store
// into DIR/stack (as vmrep server stack does), then writes the provisioned
// TLS files and token store into its tfvars, 0600.
func (a *app) provisionStack(ctx context.Context, r *provision.Result, listen, target, name string) (*api.ServerStackResult, error) {
	_, portStr, _ := net.SplitHostPort(listen)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, usagef("--listen %q: no port number", listen)
	}
	stack, err := a.cl.GenerateServerStack(ctx, api.ServerStackRequest{Target: target, Out: filepath.Join(r.Out, "stack"), Name: name, Port: port, TokenStore: true})
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for v, f := range map[string]string{"tls_cert_pem": provision.FileServerCert, "tls_key_pem": provision.FileServerKey, "tokens_json": provision.FileTokens} {
		b, err := os.ReadFile(filepath.Join(r.ServerDir, f))
		if err != nil {
			return nil, err
		}
		vars[v] = string(b)
	}
	b, err := json.MarshalIndent(vars, "", "  ")
	if err != nil {
		return nil, err
	}
	p := filepath.Join(stack.Out, provisionedTFVars)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	stack.Files = append(stack.Files, provisionedTFVars)
	return &stack, nil
}
