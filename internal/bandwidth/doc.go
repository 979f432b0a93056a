// Package bandwidth limits the bytes a transfer puts on the wire: a token
// bucket (Limiter) with Reader and Writer wrappers, and ParseRate for the
// rates users type ("200Mbit", "10MiB/s", "1G").
//
// The bucket holds a tenth of a second of the rate by default, so that in
// any one-second window at most 1.1 times the rate passes. Time comes from
// an internal/clock.Clock so that tests run in simulated time. The package
// knows nothing of what it limits: it wraps io.Reader and io.Writer.
package bandwidth
