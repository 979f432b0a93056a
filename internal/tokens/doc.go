// Package tokens owns the replication listener's bearer tokens: their
// string form (vmrep_<id>_<secret>), the token store file a server keeps
// (each token's public ID, tenancy, scope, times, revoked flag and only a
// hash of its secret), and the check of a presented token against it,
// which takes the same path whether the token is known or not. It imports
// nothing of the project, so both the daemon and the CLI may use it.
package tokens
