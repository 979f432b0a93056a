// Command vmrep is the command-line client of vmrepd: volume groups,
// snapshots, restore, verify and jobs, each a cobra command in its own
// file. Machine output (--json) goes to stdout, progress and errors to
// stderr; exit codes are 0 ok, 1 error, 2 usage.
//
// It talks only to the API client; it must not know the engine or the daemon.
package main
