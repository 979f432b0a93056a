package build

import (
	"bytes"
	"context"
	"slices"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// maxIndexChunks bounds the base chunks indexed for copy records: 40 bytes
// each, so 2 Mi chunks (128 GiB of base at 64 KiB a chunk) cost 80 MiB.
// A larger base gets no copy records.
const maxIndexChunks = 2 << 20

// copyIndex maps the chunk IDs of a base manifest to an offset where the
// base holds that chunk. It is read-only once built, so workers share it.
type copyIndex struct {
	ents []indexEntry // sorted by ID
}

type indexEntry struct {
	id  blob.ID
	off int64
}

// buildCopyIndex indexes m's data chunks, or returns nil when m is nil or
// has more than maxIndexChunks entries.
func buildCopyIndex(ctx context.Context, r blob.Reader, m *volume.Manifest) (*copyIndex, error) {
	if m == nil {
		return nil, nil
	}
	n := int64(0)
	for _, p := range m.Pages {
		n += int64(p.Entries)
	}
	if n == 0 || n > maxIndexChunks {
		return nil, nil
	}
	ix := &copyIndex{ents: make([]indexEntry, 0, n)}
	err := m.Walk(ctx, r, 0, func(off int64, e volume.Entry) error {
		if !e.Hole {
			ix.ents = append(ix.ents, indexEntry{e.ID, off})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ix.ents, func(a, b indexEntry) int { return bytes.Compare(a.id[:], b.id[:]) })
	return ix, nil
}

// find returns an offset of chunk id in the base.
func (ix *copyIndex) find(id blob.ID) (int64, bool) {
	i, ok := slices.BinarySearchFunc(ix.ents, id, func(e indexEntry, id blob.ID) int { return bytes.Compare(e.id[:], id[:]) })
	if !ok {
		return 0, false
	}
	return ix.ents[i].off, true
}
