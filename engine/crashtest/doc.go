// Package crashtest holds the crash-point suites (TestReliabilityCrash*):
// a small ingest, a gc and a delta apply run on an in-memory file system
// (internal/vfs.MemFS) that fails or crashes at the k-th file operation,
// for every k, and the store or replica is then reopened and checked. It
// has no code outside its tests.
package crashtest
