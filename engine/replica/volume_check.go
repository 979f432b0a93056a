package replica

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/vmrep/vmrep/engine/blob"
)

// ErrVolumeDiffers is wrapped by CheckVolume when the bytes are not the
// manifest's.
var ErrVolumeDiffers = errors.New("volume differs from its manifest")

// CheckVolume reads one volume of the replica in dir (its file, or the
// block device its entry links to) against manifest, chunk by chunk: it is
// the read-back after a volume was written, for a caller that writes some
// volumes of a replica and must not touch the others.
func CheckVolume(ctx context.Context, r blob.Reader, dir, volumeID string, manifest blob.ID, size int64) error {
	f, err := os.Open(VolumePath(dir, volumeID))
	if err != nil {
		return fmt.Errorf("check volume %s: %w", volumeID, err)
	}
	defer f.Close()
	p, err := checkSize(f, size)
	if err != nil {
		return fmt.Errorf("check volume %s: %w", volumeID, err)
	}
	if p != "" {
		return fmt.Errorf("check volume %s: %w: %s", volumeID, ErrVolumeDiffers, p)
	}
	d, err := compareManifest(ctx, r, manifest, f, nil)
	if err != nil {
		return fmt.Errorf("check volume %s: %w", volumeID, err)
	}
	if d.Count > 0 {
		return fmt.Errorf("check volume %s: %w: %d differing ranges, the first at offset %d (%d bytes)",
			volumeID, ErrVolumeDiffers, d.Count, d.Off, d.Len)
	}
	return nil
}
