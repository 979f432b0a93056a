package cas

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vmrep/vmrep/engine/blob"
)

// verifyBlob reads one blob with its header in a single read (one request
// on object storage), checks the header against the footer entry, and
// decodes and hashes the data. It returns the grown buffers and what it
// found wrong: a bad header, bad data, or both.
func (s *Store) verifyBlob(ctx context.Context, pack string, e PackEntry, rec, buf []byte) ([]byte, []byte, []error) {
	at := int64(e.Offset) - blobHeaderSize
	rec = slices.Grow(rec[:0], blobHeaderSize+int(e.Stored))[:blobHeaderSize+int(e.Stored)]
	if err := s.be.ReadAt(ctx, Handle{Kind: FilePack, Name: pack}, rec, at); err != nil {
		return rec, buf, []error{fmt.Errorf("read blob at offset %d: %w", at, err)}
	}
	var errs []error
	if err := checkBlobHeader(rec[:blobHeaderSize], e, at); err != nil {
		errs = append(errs, err)
	}
	out, err := s.decodeBlob(e.ID, entryLocation(pack, e), rec[blobHeaderSize:], buf)
	if err != nil {
		var be *blob.Error
		if errors.As(err, &be) {
			err = be.Err
		}
		errs = append(errs, err)
	} else if e.Flags != 0 {
		buf = out // decoded into buf; raw blobs are decoded in place in rec
	}
	return rec, buf, errs
}

// checkBlobHeader compares the header in front of a blob's data, at offset
// at of its pack, with the footer entry. Reads never use the header, but it
// is what makes a pack whose footer is lost salvageable, so a flip in it is
// damage too.
func checkBlobHeader(got []byte, e PackEntry, at int64) error {
	var want [blobHeaderSize]byte
	putBlobHeader(want[:], e.Type, e.Flags, e.Raw, e.Stored, e.ID)
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("%w (blob header at offset %d: %s differs from the footer entry)", blob.ErrCorrupt, at, blobHeaderField(i))
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
