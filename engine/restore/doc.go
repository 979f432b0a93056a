// Package restore writes a volume of a snapshot back out, to a sparse file or
// a block device, reading every chunk through the store's verified Get.
//
// Holes are never written: a new file is created sparse, an existing one has
// its holes punched, and a block device has them zeroed with BLKZEROOUT so
// that thin-provisioned devices stay thin. It knows the store's blob reader
// and the volume model, nothing above them.
package restore
