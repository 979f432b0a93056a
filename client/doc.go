// Package client is the Go client of the vmrepd API: over its Unix socket
// (New), and over HTTPS with a bearer token to a replication server
// (NewRemote), which the daemon uses to push a snapshot. Failed calls
// return *Error (api.Error) with the peer's code; job progress arrives as
// a stream of api.Event.
//
// It knows only the api package: never the engine or the daemon.
package client
