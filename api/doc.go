// Package api holds the wire types of the vmrepd HTTP API: requests,
// responses, job events and typed errors, as JSON. The daemon and the Go
// client both speak these types.
//
// It must not know about the engine: its types are copies of what users see,
// never engine structs, so the engine can change without breaking clients.
package api
