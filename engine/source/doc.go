// Package source reads the volumes of a VM as they lie in the field: raw
// files, block devices, and qcow2, vmdk and vhdx images, each seen as a
// sized, random-access Reader that also says which ranges may hold data.
//
// Open picks the decoder from the file's header, never from its name. The
// decoders treat every header field as untrusted: lengths and offsets are
// bounded by the file before anything is allocated or read.
//
// An NBD URI is read from its server (internal/nbd); with a QMP socket
// (OpenQEMU) the QEMU process or qemu-storage-daemon that owns the disk
// keeps a dirty bitmap per snapshot, so that a snapshot can read only what
// changed (Tracker).
//
// The package knows nothing of chunks, manifests or the store; it imports
// nothing of the project but the NBD and QMP clients.
package source
