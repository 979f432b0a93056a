package cas

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/vmrep/vmrep/engine/seal"
)

// Control objects of an encrypted store (gc's pending list names blob
// IDs) are sealed like records, under their own identity; lock objects
// are not (they name a holder, never content: see doc/design.md,
// "Encryption at rest"), so the sealed backend hands out the inner
// backend's locks as they are.

// controlIdentity is a control object's identity in its segments' AAD.
func controlIdentity(name string) []byte { return append([]byte{0xC0}, name...) }

// WriteControl seals data and stores it as control object name.
func (b *sealedBackend) WriteControl(ctx context.Context, name string, data []byte) error {
	c, ok := b.inner.(ControlObjects)
	if !ok {
		return errors.New("sealed backend: the storage below has no control objects")
	}
	var buf bytes.Buffer
	if err := b.keys.Seal(&buf, bytes.NewReader(data), int64(len(data)), controlIdentity(name)); err != nil {
		return fmt.Errorf("seal control object %s: %w", name, err)
	}
	return c.WriteControl(ctx, name, buf.Bytes())
}

// ReadControl reads and opens control object name; a missing one reads as
// blob.ErrNotFound, a damaged or foreign one fails authentication.
func (b *sealedBackend) ReadControl(ctx context.Context, name string) ([]byte, error) {
	c, ok := b.inner.(ControlObjects)
	if !ok {
		return nil, errors.New("sealed backend: the storage below has no control objects")
	}
	raw, err := c.ReadControl(ctx, name)
	if err != nil {
		return nil, err
	}
	hdr, err := seal.ParseHeader(raw)
	if err != nil {
		return nil, fmt.Errorf("control object %s: %w", name, err)
	}
	if n, ok := seal.PlainSize(int64(len(raw))); !ok || n != hdr.Size {
		return nil, fmt.Errorf("control object %s: %d bytes is not a sealed file of %d", name, len(raw), hdr.Size)
	}
	out := make([]byte, hdr.Size)
	read := func(p []byte, off int64) error {
		if off < 0 || off+int64(len(p)) > int64(len(raw)) {
			return fmt.Errorf("control object %s: short", name)
		}
		copy(p, raw[off:])
		return nil
	}
	if err := b.keys.ReadAt(read, hdr, controlIdentity(name), out, 0); err != nil {
		return nil, fmt.Errorf("control object %s: %w", name, err)
	}
	return out, nil
}

// innerAs returns the first backend of type T met going down be's
// wrappers (be itself first), each seen through its Unwrap.
func innerAs[T any](be Backend) (T, bool) {
	for {
		if t, ok := be.(T); ok {
			return t, true
		}
		u, ok := be.(interface{ Unwrap() Backend })
		if !ok {
			var zero T
			return zero, false
		}
		be = u.Unwrap()
	}
}

// innerLocker returns the locks of the storage below be's wrappers.
func innerLocker(be Backend) (Locker, bool) { return innerAs[Locker](be) }
