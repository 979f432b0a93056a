// Command vmrepd is the vmrep daemon: it opens one store (creating it on
// first use), listens on a Unix socket and serves the API of package daemon
// until SIGTERM or SIGINT, when it cancels running jobs, waits for them and
// closes the store.
//
// It holds flags, logging and signal handling only; all behaviour lives in
// package daemon and the engine.
package main
