// Package castest is a conformance suite for cas.Backend implementations
// and for stores kept on them: every backend (the local directory, an S3
// bucket) must pass RunBackend, and a store opened on it must pass
// RunStore. Only tests import it.
//
// It knows the Backend and Store contracts, not how any backend keeps its
// files.
package castest
