// Package export writes one volume of a snapshot out as an image file a
// hypervisor or cloud can import: a QCOW2 (version 3) image built straight
// from the manifest, or a raw image (which it leaves to engine/restore).
//
// The QCOW2 writer streams: it lays the metadata out up front from a first
// pass over the manifest, then assembles each cluster from the chunks that
// overlap it in one sequential pass, writing only clusters that hold
// non-zero bytes, so a huge, mostly empty volume gives a small image and
// needs little memory. Every chunk is read through the store's verified Get.
//
// It knows the store's blob reader and the volume model; it knows nothing of
// catalogs, snapshots, the CLI or the daemon.
package export
