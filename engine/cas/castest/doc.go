// Package castest is a conformance suite for cas.Backend implementations
// and for stores kept on them: every backend (the local directory, an S3
// bucket) must pass RunBackend, and a store opened on it must pass
// RunStore. It also holds MemStore, an in-memory blob.Store that checks
// every hash, for tests of the layers above the store. Only tests import it.
//
// It knows the Backend and Store contracts, not how any backend keeps its
// files.
package castest
