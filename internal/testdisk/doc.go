// Package testdisk makes sample disk images for tests, benchmarks and the
// demo: generated directory trees of files (random, text and sparse ones),
// ext4 images built from them with mkfs.ext4 -d, and edits applied inside an
// image with debugfs, without mounting it; and FlipByte, a damaged byte in
// a file, for corruption tests.
//
// Everything is derived from a seed, so two runs make the same bytes.
package testdisk
