// Package ingest reads a volume from a source, splits it into holes and
// content-defined chunks, and stores the chunks and the volume's manifest.
//
// A volume flows through a pipeline: one goroutine reads the allocated ranges
// of the source into a small pool of large buffers, classifies 4 KiB blocks
// as zero or not, and cuts the non-hole segments into chunks; a bounded set
// of workers hashes each chunk, skips it when the store has it already, and
// otherwise compresses and stores it; one goroutine takes the results back in
// volume order and writes the manifest. Memory is bounded by the buffer pool,
// whatever the size of the volume. The pipeline's goroutines and shutdown
// are internal/pipeline's.
//
// An Ingester holds what every ingest into one store shares: the chunker
// its config names and the opener of sources, so callers wire neither.
//
// Snapshot ingests every volume of a volume group, makes every blob durable
// with Flush, and only then writes the snapshot record. A source that
// tracks its own writes (source.Tracker, a QEMU dirty bitmap) starts its
// round before any volume is read, gives the changes as a Hint, and ends
// the round once the record is written or the snapshot failed.
//
// The package knows sources, the chunker, the blob store interfaces and the
// volume model; it knows nothing of the daemon, FUSE or stacks.
package ingest
