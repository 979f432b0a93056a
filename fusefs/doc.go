// Package fusefs serves the store read-only through FUSE: every snapshot of
// every volume group as a directory of disk image files.
//
//	DIR/<vg>/<seq>/<volume>.img   the volume's bytes, exact size, mode 0444
//	DIR/<vg>/<seq>/snapshot.json  IDs, time and manifest digests
//	DIR/<vg>/latest               symlink to the newest <seq>
//
// Directories are computed from the catalog on every lookup, so snapshots
// and volume groups come and go without a remount. Reads find the manifest
// page by binary search, serve holes as zeros, fetch chunks through the
// verifying blob.Reader into a bounded LRU of decompressed chunks (kept
// in anonymous mappings outside the Go heap, so the garbage collector's
// headroom does not double them), and
// read ahead in parallel when a file handle reads sequentially. A read's
// reply points into the cached chunks and go-fuse writes it to the kernel
// with one writev, so serving a read copies nothing in the daemon.
//
// fusefs owns the tree, the read path and mount/unmount/stale-mount cleanup.
// It knows only the small interfaces of engine/blob and engine/volume; it
// must not import daemon, client, api, stackgen or cmd.
package fusefs
