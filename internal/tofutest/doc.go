// Package tofutest gives the tests that run OpenTofu on generated stacks
// the vmrep provider those stacks require: built once from
// tools/terraform-provider-vmrep into a filesystem mirror, and a CLI config
// that installs it from there and nothing from the network.
//
// It must not know about stackgen, the daemon or the CLI.
package tofutest
