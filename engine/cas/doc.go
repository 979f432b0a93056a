// Package cas is vmrep's content-addressed store: blobs (chunks and manifest
// pages) appended to pack files, small checksummed record files for volume
// groups and snapshots, and a Pebble index that is only a cache of both.
//
// It owns the store directory layout, the pack and record formats, the index
// keys and the write order that keeps a crash from leaving an index entry or
// a record that names data which is not durable (see doc/design.md).
//
// It must not know what a chunk, a manifest or a snapshot means: blobs are
// typed bytes named by their BLAKE3 digest, records are opaque bytes under a
// name. It does not import the chunker; the chunker parameters are only kept
// in the config so they never change under a store.
package cas
