// Package daemon is vmrepd's HTTP API over a Unix socket: volume groups,
// snapshots, restore and verify on top of the engine, long work run as jobs
// with progress streamed as NDJSON, one writer per volume group, and the
// peer-credential check that decides who may talk to it.
//
// It owns the wire mapping from engine types to api types and the checks on
// paths that clients send. Its handlers return errors, written in one
// place (answerError). It speaks to replication servers through package
// client and must not know about the CLI.
package daemon
