// Package provision writes, for one tenancy, what a replication server and
// its source sites need: a CA (ECDSA P-256), the server's certificate, a
// token per site, and the server's configuration (its token store, which
// holds only hashes, and vmrepd's flags). It runs locally, without a
// daemon, so the CLI uses it directly; it imports nothing of the project
// but internal/tokens. Provisioning a second tenancy into the same
// directory keeps the CA and the server's certificate and merges the token
// store.
package provision
