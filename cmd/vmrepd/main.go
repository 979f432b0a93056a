package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/daemon"
	"github.com/vmrep/vmrep/internal/version"
)

type options struct {
	store      string
	socket     string
	logLevel   string
	allowGroup string
	socketMode string // hidden: tests open the socket to other uids
	tcp        tcpOptions
	http       httpOptions
	backend    string // s3://bucket/prefix?endpoint=…; "" keeps packs in the store directory
	compress   string // compression of a store created now
	bucket     daemon.BucketOptions
	encrypt    bool // create an encrypted store; refuse a plain one
	key        keySource
}

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError marks a mistake in how vmrepd was called: exit code 2.
type usageError struct{ error }

const examples = `  # Serve a store on the default socket, to root only.
  vmrepd --store /var/lib/vmrep

  # Let members of group vmrep list, show and snapshot volume groups.
  vmrepd --store /var/lib/vmrep --allow-group vmrep

  # A replication server keeping its packs in a bucket.
  vmrepd --store /var/lib/vmrep --backend 's3://bucket/store?endpoint=host:9000' \
    --listen :7443 --tls-cert cert.pem --tls-key key.pem --token-file token

  # A replication server that also hosts tenancies acme and globex, each in
  # a store of its own (STORE/tenancies/NAME) under a quota, with replicas
  # under /srv/replicas/NAME; tenancies.json:
  #   {"tenancies": [{"name": "acme", "quota_bytes": 107374182400}, {"name": "globex"}]}
  vmrepd --store /var/lib/vmrep --listen :7443 --tls-cert cert.pem --tls-key key.pem \
    --token-file token --replica-root /srv/replicas --tenancies tenancies.json

  # An encrypted store: packs and records sealed under a key kept off the store.
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > kek)
  vmrepd --store /var/lib/vmrep --encrypt --key-file kek`

func newRoot(o *options, logOut io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vmrepd --store DIR [flags]",
		Short: "The vmrep daemon: serves one store to vmrep over a Unix socket",
		Long: `vmrepd opens one store (creating it on first use), listens on a Unix
socket and serves the vmrep API until SIGTERM or SIGINT, when it cancels
running jobs, waits for them and closes the store. Root and the daemon's own
uid may do everything; members of --allow-group may only read and snapshot
existing volume groups. The log goes to stderr.`,
		Example:       examples,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("vmrepd takes no arguments, got %q", args[0])}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, _ []string) error {
			if o.store == "" {
				return usageError{errors.New("--store DIR is required")}
			}
			if err := o.tcp.check(); err != nil {
				return usageError{err}
			}
			if err := o.http.check(); err != nil {
				return usageError{err}
			}
			if err := checkBucket(o.bucket); err != nil {
				return usageError{err}
			}
			return run(*o, logOut)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.store, "store", "", "store `directory` (created if it does not exist)")
	fs.StringVar(&o.socket, "socket", api.DefaultSocket(), "Unix socket `path` to listen on; its directory is created 0700 (0750 with --allow-group) if missing, and never changed if present")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&o.allowGroup, "allow-group", "", "also serve members of this `group` (name or gid): read and snapshot only")
	fs.StringVar(&o.socketMode, "socket-mode", "0660", "socket file mode (tests)")
	_ = fs.MarkHidden("socket-mode")
	fs.StringVar(&o.compress, "compression", "zstd", "`codec` of a store created now: zstd (smaller), s2 (faster to write), none; an existing store keeps its own")
	fs.BoolVar(&o.encrypt, "encrypt", false, "create the store encrypted (AES-256-GCM under a data key that --key-file, --key-command or VMREP_KEK wraps); refuse to serve a plain one")
	o.key.register(cmd, "", "store's")
	fs.StringVar(&o.backend, "backend", "", "keep packs and records in this S3 `URL` (s3://bucket/prefix?endpoint=host:port&secure=false); credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
	fs.DurationVar(&o.bucket.GCGrace, "gc-grace", daemon.DefaultGCGrace, "with --backend: gc deletes a blob only when an earlier gc found it dead at least this `duration` ago (at least twice --bucket-lease)")
	fs.DurationVar(&o.bucket.Lease, "bucket-lease", 2*time.Minute, "with --backend: life of a lock in the bucket without refresh; a daemon that stops refreshing its lock loses it after this `duration`")
	fs.DurationVar(&o.bucket.RefreshEvery, "refresh-interval", time.Minute, "with --backend: learn other daemons' new packs and snapshots this often (`duration`) while idle")
	o.tcp.register(cmd)
	o.http.register(cmd)
	fs.SortFlags = false
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.AddCommand(newRotateKeyCmd())
	return cmd
}

// execute runs vmrepd and returns its exit code: 0, 1 for a failure, 2 for
// a usage mistake. Help and --version go to stdout, errors to stderr, each
// as one line.
func execute(argv []string, stdout, stderr io.Writer) int {
	var o options
	root := newRoot(&o, stderr)
	root.SetArgs(argv)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "vmrepd: %s\n", strings.Join(strings.Fields(err.Error()), " "))
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// checkBucket refuses bucket timings that would make gc of a shared bucket
// unsafe: the grace must outlast any writer's lease.
func checkBucket(b daemon.BucketOptions) error {
	switch {
	case b.Lease < time.Second:
		return fmt.Errorf("--bucket-lease %v: want at least 1s", b.Lease)
	case b.GCGrace < 2*b.Lease:
		return fmt.Errorf("--gc-grace %v: want at least twice --bucket-lease (%v)", b.GCGrace, 2*b.Lease)
	case b.RefreshEvery < time.Second:
		return fmt.Errorf("--refresh-interval %v: want at least 1s", b.RefreshEvery)
	}
	return nil
}
