// Package client is the Go client of the vmrepd API over its Unix socket.
// Failed calls return *Error with the daemon's code; job progress arrives
// as a stream of api.Event.
//
// It knows only the api package: never the engine or the daemon.
package client
