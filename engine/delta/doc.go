// Package delta owns the .vmdelta format (one file, or a directory of an
// index and parts): its constants, header and split index, frame encoding
// and frame hashes, the sinks that write a delta and the reader that opens
// one, verifies its checksums and walks its frames, and the assembler that
// turns a frame into its target bytes.
//
// It knows neither how a delta is computed (engine/delta/build) nor what
// applying one does to a replica (engine/replica); it must not know about
// the Pebble-backed store, the daemon, the API or the CLI.
package delta
