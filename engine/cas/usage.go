package cas

import "context"

// PackBytes is the total size of the store's committed packs: what the
// store takes in its backend, less records and the index. Blobs waiting in
// a writer are not counted until they are flushed.
func (s *Store) PackBytes(ctx context.Context) (int64, error) {
	return s.packBytes(ctx)
}
