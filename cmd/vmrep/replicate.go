package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/bandwidth"
	"github.com/vmrep/vmrep/internal/secretfile"
)

func newReplicateCmd(a *app) *cobra.Command {
	var to, tokenFile, caFile, serverName, materialize, limit, encryptFor, keyFile string
	var devices []string
	cmd := &cobra.Command{
		Use:   "replicate VG@N --to HOST:PORT --token-file FILE [--ca CA.pem] [--materialize DIR [--device VOLUME-ID=PATH]...] [--limit RATE] [--encrypt-for TENANCY --key-file F]",
		Short: "Send a snapshot to a replication server (a vmrepd with --listen)",
		Long: `The local daemon sends the volume group record (identifiers unchanged), asks
the server which pages and chunks of the snapshot it lacks, streams those
(each checked by hash on arrival), and then sends the snapshot record, which
the server commits only once every blob it names is durable. Running it again
sends nothing; after an earlier snapshot only the changed chunks travel.

The connection is TLS (trusting --ca, or the system roots) with the bearer
token read from --token-file. With --materialize the server also writes the
snapshot into a replica directory under its --replica-root, moving an
existing replica forward with a delta. --device VOLUME-ID=PATH (repeated)
has the server write only those volumes, each into a block device of its
own, PATH being an entry of its --device-root (on OCI a consistent device
path, /dev/oracleoci/oraclevdb, of a volume attached to the server): a
device that holds an earlier snapshot of the volume is moved forward in
place by the delta, any other is written whole, and every device is read
back against the snapshot before the command succeeds. The server refuses
paths outside its device root and devices that are in use.

Blobs travel in their stored, compressed form; the result reports the
logical bytes sent beside the bytes on the wire. --limit bounds the rate on
the wire ("200Mbit", "50MiB/s", "unlimited"). A run cut short (connection
lost, either side stopped) is resumed by running it again: what the server
already stored is not sent again.

--encrypt-for TENANCY --key-file F seals every chunk here, before it leaves,
with AES-256-GCM under a key derived from F (64 hex digits, mode 600) and the
tenancy: the server stores and deduplicates ciphertext it cannot read, and
sees only the volumes' geometry (sizes, chunk lengths, holes). Sealing is
deterministic, so a later snapshot sends only its changed chunks. The server
writes such a snapshot into block storage only when the key comes with the
request (--materialize with the same two flags); it holds the key for that
request only. Keep F: without it, nobody can read the replicated data.`,
		Example: `  vmrep replicate web@1 --to repl.example.net:7443 --token-file token --ca ca.pem
  vmrep replicate web@2 --to 10.0.0.5:7443 --token-file token --ca ca.pem --materialize web
  vmrep replicate web@latest --to 10.0.0.5:7443 --token-file token --json
  vmrep replicate web@2 --to 10.0.0.5:7443 --token-file token --ca ca.pem --materialize web \
    --device vol-0123456789abcdef=/dev/oracleoci/oraclevdb
  vmrep replicate web@latest --to 10.0.0.5:7443 --token-file token --ca ca.pem --limit 200Mbit
  vmrep replicate web@3 --to 10.0.0.5:7443 --token-file token --ca ca.pem \
    --encrypt-for acme --key-file source.key --materialize web`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if to == "" || tokenFile == "" {
				return usagef("--to HOST:PORT and --token-file FILE are required")
			}
			if _, _, err := parseRef(argv[0]); err != nil {
				return err
			}
			if limit != "" {
				r, err := bandwidth.ParseRate(limit)
				if err != nil {
					return usagef("--limit: %v", err)
				}
				limit = r.String()
			}
			req := api.ReplicateRequest{Snapshot: argv[0], To: to, ServerName: serverName, Materialize: materialize, Limit: limit}
			if len(devices) > 0 {
				if materialize == "" {
					return usagef("--device goes with --materialize")
				}
				req.Devices = make(map[string]string, len(devices))
				for _, d := range devices {
					id, path, ok := strings.Cut(d, "=")
					if !ok || id == "" || path == "" {
						return usagef("--device %q: want VOLUME-ID=PATH", d)
					}
					if _, dup := req.Devices[id]; dup {
						return usagef("--device: volume %s named twice", id)
					}
					req.Devices[id] = path
				}
			}
			if (encryptFor == "") != (keyFile == "") {
				return usagef("--encrypt-for TENANCY and --key-file FILE go together")
			}
			var err error
			if keyFile != "" {
				if req.SourceKey, err = secretfile.Read("--key-file", keyFile); err != nil {
					return err
				}
				req.EncryptFor = encryptFor
			}
			if req.Token, req.CAPEM, err = readRemoteSecrets(tokenFile, caFile); err != nil {
				return err
			}
			a.startingJob()
			j, err := a.cl.Replicate(cmd.Context(), req)
			if err != nil {
				return err
			}
			var r api.ReplicateResult
			if show, err := a.await(cmd.Context(), j, &r); !show {
				return err
			}
			state := "committed"
			if !r.Committed {
				state = "already there"
			}
			sealed := ""
			if encryptFor != "" {
				sealed = fmt.Sprintf(", sealed for %s (%d chunks sealed by this run)", encryptFor, r.SealedChunks)
			}
			fmt.Fprintf(a.stdout, "%s to %s: %s; %d of %d blobs sent (%s, %s on the wire), %d skipped%s\n",
				r.Snapshot, r.To, state, r.SentBlobs, r.Blobs, humanBytes(r.SentBytes), humanBytes(r.WireBytes), r.SkippedBlobs, sealed)
			if r.Replica != nil {
				fmt.Fprintf(a.stdout, "replica %s on the server:\n", r.Replica.Dir)
				if err := a.printReplica(*r.Replica); err != nil {
					return err
				}
				for _, d := range r.Replica.Devices {
					fmt.Fprintf(a.stdout, "device %s: volume %s (%s) %s", d.Device, d.Name, d.VolumeID, d.How)
					if d.How == api.DeviceDelta {
						fmt.Fprintf(a.stdout, " from %s@%d", r.Replica.VGName, d.From)
					}
					fmt.Fprintf(a.stdout, ", %s written, verified\n", humanBytes(d.WrittenBytes))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "replication server address HOST:PORT")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the server's bearer token")
	cmd.Flags().StringVar(&caFile, "ca", "", "PEM file of the CA to trust for the server's certificate (default: system roots)")
	cmd.Flags().StringVar(&serverName, "server-name", "", "name to check in the server's certificate (default: the host of --to)")
	cmd.Flags().StringVar(&limit, "limit", "", `bound the rate on the wire, e.g. "200Mbit" or "50MiB/s" (default: unlimited)`)
	cmd.Flags().StringVar(&materialize, "materialize", "", "also write a replica into this directory, relative to the server's replica root")
	cmd.Flags().StringVar(&encryptFor, "encrypt-for", "", "seal every chunk here for this tenancy before it leaves; the server cannot read it (with --key-file)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "the source key for --encrypt-for: 64 hex digits, in a file of mode 600")
	cmd.Flags().StringArrayVar(&devices, "device", nil, "with --materialize: write volume VOLUME-ID=PATH into the server's block device PATH (an entry of its --device-root); repeatable")
	return cmd
}
