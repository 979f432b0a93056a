// Package replica owns a replica: a directory of volume files (sparse
// files, or symlinks to block devices) and the state.json that says which
// snapshot each holds. It creates one from a snapshot, brings one forward
// by applying a delta (the apply journal, the staging of copy sources, the
// space reservation, the pre-pass and the write pass), and verifies one
// against a snapshot or its recorded manifest IDs.
//
// It reads deltas through package delta's reader and never makes one: it
// must not import engine/delta/build, the Pebble-backed store, the daemon,
// the API or the CLI.
package replica
