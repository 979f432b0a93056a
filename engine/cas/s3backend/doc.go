// Package s3backend keeps a store's pack, record and config files in an
// S3-compatible bucket (MinIO, OCI Object Storage, AWS S3), as a
// cas.Backend. Objects are named like the local directory layout under an
// optional key prefix: packs/xx/<hex>.pack, records/vgs/<name>,
// records/snapshots/<name> and config. Several stores may share a bucket:
// it also keeps their locks (locks/exclusive, locks/shared-<id>, JSON,
// created with S3 conditional writes) and small control objects (gc/),
// as a cas.Locker and cas.ControlObjects.
//
// It owns the mapping of handles to object keys, retries of transient
// errors and the mapping of missing objects to blob.ErrNotFound. It must not
// know pack or record formats: it moves opaque immutable files. It is a
// sub-package so that engine/cas does not depend on an S3 client.
package s3backend
