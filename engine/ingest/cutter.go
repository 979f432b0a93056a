package ingest

import (
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/chunker"
)

// NewCutter returns the chunker a store's config names. Every ingest into a
// store must cut with the parameters fixed at its init; the store only keeps
// the numbers, the cutter belongs here.
func NewCutter(p blob.ChunkerParams) (*chunker.Cutter, error) {
	return chunker.NewCutter(chunker.Params{Min: p.Min, Avg: p.Avg, Max: p.Max})
}
