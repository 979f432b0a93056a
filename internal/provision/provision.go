package provision

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmrep/vmrep/internal/tokens"
)

// Layout of a provisioned directory. ca/ holds the CA's key and stays with
// the operator; server/ is copied to the server host as it is; each
// clients/TENANCY/SITE/ goes to one source site.
const (
	DirCA      = "ca"
	DirServer  = "server"
	DirClients = "clients"

	FileCACert     = "ca.pem"
	FileCAKey      = "ca-key.pem"
	FileServerCert = "server.pem"
	FileServerKey  = "server-key.pem"
	FileTokens     = "tokens.json"
	FileEnv        = "vmrepd.env"
	FileToken      = "token"
)

// Options say what to provision.
type Options struct {
	Tenancy     string
	Sites       []string // one token per site
	Scope       string   // of the sites' tokens; default replicate
	TTL         time.Duration
	ServerNames []string // DNS SANs of the server's certificate
	ServerIPs   []net.IP // IP SANs
	Listen      string   // vmrepd --listen; default 0.0.0.0:7443
	// InstallDir is where server/ will lie on the server host, for the
	// paths in vmrepd.env; default server/'s absolute path here.
	InstallDir string
	Now        time.Time
}

// Client is what one source site receives.
type Client struct {
	Site      string     `json:"site"`
	TokenID   string     `json:"token_id"`
	Scope     string     `json:"scope"`
	Expires   *time.Time `json:"expires,omitempty"`
	TokenFile string     `json:"token_file"`
	CAFile    string     `json:"ca_file"`
}

// Result says what Provision wrote.
type Result struct {
	Out              string   `json:"out"`
	Tenancy          string   `json:"tenancy"`
	CACreated        bool     `json:"ca_created"`
	ServerCertIssued bool     `json:"server_cert_issued"`
	ServerDir        string   `json:"server_dir"`
	TokenStore       string   `json:"token_store"`
	EnvFile          string   `json:"env_file"`
	Clients          []Client `json:"clients"`
}

// ErrUsage marks an error in the options, before anything is written.
var ErrUsage = errors.New("provision")

func usagef(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

func (o *Options) check() error {
	if !tokens.ValidTenancy(o.Tenancy) {
		return usagef("tenancy %q: lower-case letters, digits and -, up to 63, starting with a letter or digit", o.Tenancy)
	}
	if o.Scope == "" {
		o.Scope = tokens.ScopeReplicate
	}
	if !tokens.ValidScope(o.Scope) {
		return usagef("scope %q: read, replicate or admin", o.Scope)
	}
	if o.TTL < 0 {
		return usagef("a negative expiry")
	}
	if len(o.Sites) == 0 {
		return usagef("no sites: name them with --site or count them with --sites")
	}
	seen := map[string]bool{}
	for _, s := range o.Sites {
		if !tokens.ValidTenancy(s) {
			return usagef("site %q: lower-case letters, digits and -, up to 63", s)
		}
		if seen[s] {
			return usagef("site %q named twice", s)
		}
		seen[s] = true
	}
	for _, n := range o.ServerNames {
		if n == "" || strings.ContainsAny(n, " /:") {
			return usagef("server name %q is not a DNS name", n)
		}
	}
	if o.Listen == "" {
		o.Listen = "0.0.0.0:7443"
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return usagef("listen address %q: %v", o.Listen, err)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	return nil
}

// Provision writes, under out, the CA (kept when out already has one), the
// server's certificate (kept when it already names every requested name
// and address), one token per site of the tenancy, and the server's token
// store and vmrepd flags. A tenancy that already has active tokens in the
// store is refused: add sites with `vmrep server tokens create`. Options
// are checked and existing files read before anything is written; the
// token store is written last, so its tokens exist only once their sites'
// files do.
func Provision(out string, o Options) (*Result, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	caDir, srvDir := filepath.Join(out, DirCA), filepath.Join(out, DirServer)
	storePath := filepath.Join(srvDir, FileTokens)
	res := &Result{Out: out, Tenancy: o.Tenancy, ServerDir: srvDir, TokenStore: storePath, EnvFile: filepath.Join(srvDir, FileEnv)}

	store := &tokens.File{}
	if _, err := os.Stat(storePath); err == nil {
		if store, err = tokens.Load(storePath); err != nil {
			return nil, err
		}
	}
	for _, e := range store.Tokens {
		if e.Tenancy == o.Tenancy && e.State(o.Now) == "active" {
			return nil, usagef("tenancy %s is already provisioned in %s; add a site with vmrep server tokens create --tenancy %s --server-dir %s", o.Tenancy, out, o.Tenancy, srvDir)
		}
	}
	for _, s := range o.Sites {
		if _, err := os.Stat(filepath.Join(out, DirClients, o.Tenancy, s)); err == nil {
			return nil, usagef("%s already exists; remove it or name another site", filepath.Join(out, DirClients, o.Tenancy, s))
		}
	}

	var c *ca
	if _, err := os.Stat(filepath.Join(caDir, FileCACert)); err == nil {
		if c, err = loadCA(filepath.Join(caDir, FileCACert), filepath.Join(caDir, FileCAKey)); err != nil {
			return nil, err
		}
	} else {
		if len(o.ServerNames) == 0 && len(o.ServerIPs) == 0 {
			return nil, usagef("a new server needs --server-name or --server-ip for its certificate")
		}
		if c, err = newCA("vmrep replication CA", o.Now); err != nil {
			return nil, err
		}
		res.CACreated = true
	}
	var certPEM, keyPEM []byte
	oldCert, err := os.ReadFile(filepath.Join(srvDir, FileServerCert))
	switch {
	case err == nil && c.covers(oldCert, o.ServerNames, o.ServerIPs, o.Now):
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("provision: %w", err)
	default:
		if len(o.ServerNames) == 0 && len(o.ServerIPs) == 0 {
			return nil, usagef("the server certificate must be issued: give --server-name or --server-ip")
		}
		if certPEM, keyPEM, err = c.issueServer(o.ServerNames, o.ServerIPs, o.Now); err != nil {
			return nil, err
		}
		res.ServerCertIssued = true
	}

	// Everything is known; write.
	for _, d := range []string{out, caDir, srvDir, filepath.Join(out, DirClients), filepath.Join(out, DirClients, o.Tenancy)} {
		if err := mkdir(d); err != nil {
			return nil, err
		}
	}
	if res.CACreated {
		if err := writeFiles(caDir, map[string][]byte{FileCAKey: c.keyPEM, FileCACert: c.certPEM}); err != nil {
			return nil, err
		}
	}
	if err := writeFiles(srvDir, map[string][]byte{FileCACert: c.certPEM}); err != nil {
		return nil, err
	}
	if certPEM != nil {
		if err := writeFiles(srvDir, map[string][]byte{FileServerKey: keyPEM, FileServerCert: certPEM}); err != nil {
			return nil, err
		}
	}
	for _, site := range o.Sites {
		tok, e, err := store.Add(o.Tenancy, o.Scope, site, o.Now, o.TTL)
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(out, DirClients, o.Tenancy, site)
		if err := mkdir(dir); err != nil {
			return nil, err
		}
		if err := writeFiles(dir, map[string][]byte{FileToken: []byte(tok + "\n"), FileCACert: c.certPEM}); err != nil {
			return nil, err
		}
		cl := Client{Site: site, TokenID: e.ID, Scope: e.Scope, TokenFile: filepath.Join(dir, FileToken), CAFile: filepath.Join(dir, FileCACert)}
		if !e.Expires.IsZero() {
			cl.Expires = &e.Expires
		}
		res.Clients = append(res.Clients, cl)
	}
	inst := o.InstallDir
	if inst == "" {
		inst = srvDir
	}
	env := fmt.Sprintf("# vmrepd's replication listener, as vmrep server provision wrote it.\n"+
		"# Start it as: vmrepd --store STORE $VMREPD_REPLICATION\n"+
		"VMREPD_REPLICATION=\"--listen %s --tls-cert %s --tls-key %s --tokens %s\"\n",
		o.Listen, filepath.Join(inst, FileServerCert), filepath.Join(inst, FileServerKey), filepath.Join(inst, FileTokens))
	if err := writeFiles(srvDir, map[string][]byte{FileEnv: []byte(env)}); err != nil {
		return nil, err
	}
	if err := store.Save(storePath); err != nil {
		return nil, err
	}
	return res, nil
}

func mkdir(d string) error {
	if err := os.MkdirAll(d, 0o700); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	return os.Chmod(d, 0o700)
}

// writeFiles writes each file 0600 through a temporary file renamed over,
// so a file is whole or absent.
func writeFiles(dir string, files map[string][]byte) error {
	for name, b := range files {
		p := filepath.Join(dir, name)
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return fmt.Errorf("provision: %w", err)
		}
		if err := os.Rename(tmp, p); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("provision: %w", err)
		}
	}
	return nil
}
