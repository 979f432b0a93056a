// Package daemon is vmrepd's HTTP API over a Unix socket: volume groups,
// snapshots, restore and verify on top of the engine, long work run as jobs
// with progress streamed as NDJSON, one writer per volume group, and the
// peer-credential check that decides who may talk to it.
//
// It owns the wire mapping from engine types to api types and the checks on
// paths that clients send. It must not know about the client or the CLI.
package daemon
