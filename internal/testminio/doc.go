// Package testminio runs a real MinIO server for tests that need an
// S3-compatible bucket: a process on a free loopback port with its data in
// a temp directory, killed when the test ends, plus a plain S3 listing so
// a test can see what landed in the bucket without going through the
// code under test.
//
// It knows nothing of vmrep's stores; it must not import engine packages.
package testminio
