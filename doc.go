// Package vmrep is the module root. It holds no code, only the test that
// keeps the import layering of doc/design.md: engine packages never import
// the daemon, the API or the CLI, and lower engine packages never import
// higher ones.
package vmrep
