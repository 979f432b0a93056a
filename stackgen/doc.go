// Package stackgen turns a replication plan (a VG at a snapshot, optionally
// with the delta that moves a replica to it from a base snapshot) into an
// OpenTofu/Terraform stack: main.tf, variables.tf, outputs.tf, versions.tf,
// a README and plan.json.
//
// It owns the HCL it emits (always built with hclwrite, never by string
// templates), the validation of every name, ID and digest that reaches that
// HCL, and the layout of a stack directory.
//
// It must not know about the engine, the daemon, the API, the client or the
// CLI: callers hand it a self-contained Plan. The stacks it writes call the
// vmrep CLI; stackgen never runs it.
package stackgen
