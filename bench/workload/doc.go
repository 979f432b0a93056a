// Package workload makes the benchmark inputs of bench/harness from a seed:
// an "OS disk" ext4 image built with mkfs.ext4 -d from a generated tree, a
// sparse image with a given share of data, a mixed image for the size sweep,
// the mutations between two snapshots (scattered 4 KiB writes, file edits
// inside the ext4 image with debugfs, a sequential overwrite), and synthetic
// manifests of very large volumes that hold no data at all.
//
// Two runs with the same seed make the same bytes, so figures from different
// runs compare like with like. It builds on internal/testdisk for file
// content, mkfs.ext4 and debugfs; it knows the volume manifest format only
// through volume.NewManifestWriter, and nothing of stores, deltas or peers.
package workload
