// Package tfschema checks OpenTofu/Terraform configuration against
// provider schemas in the format `tofu providers schema -json` prints,
// without running tofu or the provider: resource types and data sources
// exist, arguments and nested blocks exist with the right nesting, values
// have types the schema accepts, required arguments and blocks are there,
// computed-only attributes are not set, block counts respect the limits,
// and references name attributes that exist.
//
// It reads HCL and JSON only; it knows nothing of vmrep, stacks or
// snapshots. stackgen's tests use it on every stack the oci target writes.
package tfschema
