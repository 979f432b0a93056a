package chunker

import (
	"errors"
	"fmt"
)

// ErrInvalidParams is wrapped by every error from [Params.Validate].
var ErrInvalidParams = errors.New("invalid chunker parameters")

const (
	// MinMin is the smallest allowed Min: below it the Gear window (64 bytes)
	// is longer than a chunk.
	MinMin = 64
	// MaxMax bounds Max so a chunk always fits in one pack blob.
	MaxMax = 4 << 20
)

// Params are the chunk size bounds in bytes. Every chunk but the last of a
// segment is at least Min and at most Max bytes; Avg is the target size.
type Params struct{ Min, Avg, Max int }

// DefaultParams returns 16 KiB / 64 KiB / 256 KiB, the sizes doc/design.md
// fixes for a new store.
func DefaultParams() Params {
	return Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10}
}

// Validate reports whether p can drive a [Cutter]: Min >= 64,
// Min < Avg < Max, Avg a power of two and Max <= 4 MiB.
func (p Params) Validate() error {
	var why string
	switch {
	case p.Min < MinMin:
		why = fmt.Sprintf("min must be at least %d", MinMin)
	case p.Avg <= p.Min:
		why = "avg must be greater than min"
	case p.Max <= p.Avg:
		why = "max must be greater than avg"
	case p.Max > MaxMax:
		why = fmt.Sprintf("max must be at most %d", MaxMax)
	case p.Avg&(p.Avg-1) != 0:
		why = "avg must be a power of two"
	default:
		return nil
	}
	return fmt.Errorf("chunker params min=%d avg=%d max=%d: %w: %s", p.Min, p.Avg, p.Max, ErrInvalidParams, why)
}

// String formats p as min/avg/max for logs and errors.
func (p Params) String() string {
	return fmt.Sprintf("%d/%d/%d", p.Min, p.Avg, p.Max)
}
