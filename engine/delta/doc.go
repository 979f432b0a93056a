// Package delta owns the .vmdelta format (one file, or a directory of an
// index and parts), its export from two snapshots, its parser, replicas
// (volume files plus state.json) and verified apply.
//
// It reads snapshots through blob.Reader and the diff package; it must
// not know about the Pebble-backed store, the daemon, the API or the CLI.
package delta
