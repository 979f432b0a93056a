// Package fuseceiling is a benchmark fixture: the least a go-fuse server
// can do to serve one file, from memory. Reading it through its mount
// measures the FUSE ceiling that vmrep's own mount is compared against; it
// is mounted with the options the caller passes, which should be vmrep's,
// and the caller gives its mount the same kernel read-ahead as vmrep's.
// It knows nothing of the store.
package fuseceiling
