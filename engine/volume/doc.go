// Package volume owns the model of what vmrep keeps about a virtual machine:
// volume groups (VGs) and their volumes, snapshots, references such as
// "web@3", the paged manifest format that lists a volume's extents, and the
// catalog that keeps VG and snapshot records.
//
// It stands on the store only through engine/blob's small interfaces:
// blob.Reader and blob.Writer for manifest pages, blob.RecordStore for
// records; it never imports engine/cas. It must not know how blobs or
// records are stored (packs, Pebble, backends), nor anything about
// sources, chunking, deltas, FUSE or the daemon.
package volume
