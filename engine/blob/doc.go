// Package blob is the light domain layer under every engine package that
// reads or writes content-addressed data: the blob ID and its hash, blob and
// record types, the small reader, writer and record-store interfaces, and
// the sentinel errors they return.
//
// It imports nothing heavy (no Pebble, no compression, no backend), so
// volume, diff, delta, replica and fusefs depend on these names without
// pulling in a store. engine/cas implements the interfaces with packs and a
// Pebble index; the S3 backend sits under it. This package must not know
// how blobs are stored.
package blob
