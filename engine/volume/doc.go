// Package volume owns the model of what vmrep keeps about a virtual machine:
// volume groups (VGs) and their volumes, snapshots, references such as
// "web@3", the paged manifest format that lists a volume's extents, and the
// catalog that keeps VG and snapshot records.
//
// It stands on engine/cas only through small interfaces: cas.BlobReader and
// cas.BlobWriter for manifest pages, and RecordStore (defined here, by the
// consumer) for records. It must not know how blobs or records are stored
// (packs, Pebble, backends), nor anything about sources, chunking, deltas,
// FUSE or the daemon.
package volume
