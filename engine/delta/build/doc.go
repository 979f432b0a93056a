// Package build exports a delta: it diffs two snapshots, reads both sides
// of every changed range through blob.Reader, refines them into zero, data
// and copy records, packs those into frames, and hands the frames to a
// delta.Sink.
//
// It writes the format only through package delta's encoder and sinks. It
// must not know about replicas (engine/replica), the Pebble-backed store,
// the daemon, the API or the CLI.
package build
