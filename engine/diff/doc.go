// Package diff compares the manifests of two snapshots of a volume and
// returns the byte ranges of the target that differ from the base.
//
// It owns the comparison only: it reads manifests through blob.Reader,
// skips manifest pages whose IDs match at equal offsets without loading
// them, and never reads chunk data. It must not know about stores, delta
// files, replicas or the daemon.
package diff
