package cas

import (
	"context"
	"fmt"
)

// verifyBlobHeader reads the header in front of a blob's data and checks it
// against the footer entry. Reads never use it, but it is what makes a pack
// whose footer is lost salvageable, so a flip in it is damage too.
func (s *Store) verifyBlobHeader(ctx context.Context, pack string, e PackEntry) error {
	at := int64(e.Offset) - blobHeaderSize
	var got [blobHeaderSize]byte
	if err := s.be.ReadAt(ctx, Handle{Kind: FilePack, Name: pack}, got[:], at); err != nil {
		return fmt.Errorf("read blob header at offset %d: %w", at, err)
	}
	var want [blobHeaderSize]byte
	putBlobHeader(want[:], e.Type, e.Flags, e.Raw, e.Stored, e.ID)
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("%w (blob header at offset %d: %s differs from the footer entry)", ErrCorrupt, at, blobHeaderField(i))
		}
	}
	return nil
}

// blobHeaderField names the field of a blob header that byte i belongs to.
func blobHeaderField(i int) string {
	switch {
	case i == 0:
		return "type"
	case i == 1:
		return "flags"
	case i < 4:
		return "reserved bytes"
	case i < 8:
		return "raw length"
	case i < 12:
		return "stored length"
	}
	return "blob id"
}
