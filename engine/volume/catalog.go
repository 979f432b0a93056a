package volume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
)

// Sentinel errors of the catalog; match with errors.Is. ErrNotFound is
// blob.ErrNotFound itself, so either name matches.
var (
	ErrExists       = errors.New("already exists")
	ErrNotFound     = blob.ErrNotFound
	ErrHasSnapshots = errors.New("has snapshots")
)

// Catalog keeps VG and snapshot records. Its methods are safe for
// concurrent use within one process; the store's lock keeps other
// processes out.
type Catalog struct {
	rs  blob.RecordStore
	now func() time.Time // injectable for tests
	mu  sync.Mutex       // serializes read-modify-write of records
}

// NewCatalog returns a catalog over rs.
func NewCatalog(rs blob.RecordStore) *Catalog {
	return &Catalog{rs: rs, now: time.Now}
}

func snapshotName(vgID string, seq uint64) string { return fmt.Sprintf("%s-%016x", vgID, seq) }

// CreateVG validates and stores a new VG. Missing VG and volume identifiers
// are generated; Created and NextSeq are set. The name must be unused.
func (c *Catalog) CreateVG(ctx context.Context, vg VG) (VG, error) {
	vg.Volumes = append([]Volume(nil), vg.Volumes...)
	if vg.ID == "" {
		vg.ID = NewVGID()
	}
	for i := range vg.Volumes {
		if vg.Volumes[i].ID == "" {
			vg.Volumes[i].ID = NewVolumeID()
		}
	}
	vg.Created = c.now().UTC()
	vg.NextSeq = 1
	if err := vg.Validate(); err != nil {
		return VG{}, fmt.Errorf("create volume group: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	vgs, err := c.listVGsLocked(ctx)
	if err != nil {
		return VG{}, fmt.Errorf("create volume group %q: %w", vg.Name, err)
	}
	for _, o := range vgs {
		if o.Name == vg.Name || o.ID == vg.ID {
			return VG{}, fmt.Errorf("create volume group %q: %w (%s)", vg.Name, ErrExists, o.ID)
		}
	}
	if err := c.putVGLocked(ctx, vg); err != nil {
		return VG{}, fmt.Errorf("create volume group %q: %w", vg.Name, err)
	}
	return vg, nil
}

// UpdateVG replaces a VG's record (found by vg.ID). The name must stay
// unique; Created is kept, and NextSeq never goes back. Every volume an
// existing snapshot names must stay, with its ID, name and role
// (ErrVolumeInUse otherwise).
func (c *Catalog) UpdateVG(ctx context.Context, vg VG) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, err := c.getVGLocked(ctx, vg.ID)
	if err != nil {
		return fmt.Errorf("update volume group %q: %w", vg.Name, err)
	}
	vg.Created = old.Created
	vg.NextSeq = max(vg.NextSeq, old.NextSeq)
	if old.Origin != "" {
		vg.Origin = old.Origin
	}
	if err := vg.Validate(); err != nil {
		return fmt.Errorf("update volume group: %w", err)
	}
	if err := c.keepsSnapshotVolumesLocked(ctx, old, vg); err != nil {
		return err
	}
	if vg.Name != old.Name {
		vgs, err := c.listVGsLocked(ctx)
		if err != nil {
			return fmt.Errorf("update volume group %q: %w", vg.Name, err)
		}
		for _, o := range vgs {
			if o.Name == vg.Name {
				return fmt.Errorf("rename volume group %q to %q: %w (%s)", old.Name, vg.Name, ErrExists, o.ID)
			}
		}
	}
	if err := c.putVGLocked(ctx, vg); err != nil {
		return fmt.Errorf("update volume group %q: %w", vg.Name, err)
	}
	return nil
}

// ListVGs returns every VG, by name.
func (c *Catalog) ListVGs(ctx context.Context) ([]VG, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	vgs, err := c.listVGsLocked(ctx)
	if err != nil {
		return nil, fmt.Errorf("list volume groups: %w", err)
	}
	return vgs, nil
}

// GetVG finds a VG by identifier or name.
func (c *Catalog) GetVG(ctx context.Context, nameOrID string) (VG, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getVGLocked(ctx, nameOrID)
}

// DeleteVG removes a VG's record. A VG with snapshots is refused with
// ErrHasSnapshots unless force is set; then its snapshot records go first,
// so a crash half way leaves a VG with fewer snapshots, never snapshots
// without their VG. Blobs are left to gc.
func (c *Catalog) DeleteVG(ctx context.Context, nameOrID string, force bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	vg, err := c.getVGLocked(ctx, nameOrID)
	if err != nil {
		return fmt.Errorf("delete volume group: %w", err)
	}
	snaps, err := c.listSnapshotsLocked(ctx, vg.ID)
	if err != nil {
		return fmt.Errorf("delete volume group %q: %w", vg.Name, err)
	}
	if len(snaps) > 0 && !force {
		return fmt.Errorf("delete volume group %q: %w (%d); delete them first or force", vg.Name, ErrHasSnapshots, len(snaps))
	}
	for _, s := range snaps {
		if err := c.rs.DeleteRecord(ctx, blob.RecordSnapshot, snapshotName(vg.ID, s.Seq)); err != nil {
			return fmt.Errorf("delete volume group %q: delete snapshot %d: %w", vg.Name, s.Seq, err)
		}
	}
	if err := c.rs.DeleteRecord(ctx, blob.RecordVG, vg.ID); err != nil {
		return fmt.Errorf("delete volume group %q: %w", vg.Name, err)
	}
	return nil
}

// ReserveSeq hands out the VG's next sequence number and persists the one
// after it before returning, so a number is never given twice, even if the
// snapshot that reserved it is never written.
func (c *Catalog) ReserveSeq(ctx context.Context, vgID string) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	vg, err := c.getVGByIDLocked(ctx, vgID)
	if err != nil {
		return 0, fmt.Errorf("reserve sequence number: %w", err)
	}
	seq := vg.NextSeq
	vg.NextSeq++
	if err := c.putVGLocked(ctx, vg); err != nil {
		return 0, fmt.Errorf("reserve sequence number of volume group %q: %w", vg.Name, err)
	}
	return seq, nil
}

func (c *Catalog) putVGLocked(ctx context.Context, vg VG) error {
	data, err := json.Marshal(vg)
	if err != nil {
		return fmt.Errorf("encode volume group record: %w", err)
	}
	return c.rs.PutRecord(ctx, blob.RecordVG, vg.ID, data)
}

func decodeVG(name string, data []byte) (VG, error) {
	var vg VG
	if err := json.Unmarshal(data, &vg); err != nil {
		return VG{}, fmt.Errorf("volume group record %s: %w", name, err)
	}
	if err := vg.Validate(); err != nil {
		return VG{}, fmt.Errorf("volume group record %s: %w", name, err)
	}
	if vg.ID != name {
		return VG{}, fmt.Errorf("volume group record %s holds volume group %s", name, vg.ID)
	}
	if vg.Created.IsZero() || vg.NextSeq == 0 {
		return VG{}, fmt.Errorf("volume group record %s: missing creation time or next sequence number", name)
	}
	return vg, nil
}

func (c *Catalog) listVGsLocked(ctx context.Context) ([]VG, error) {
	var vgs []VG
	err := c.rs.ListRecords(ctx, blob.RecordVG, "", func(name string, data []byte) error {
		vg, err := decodeVG(name, data)
		if err != nil {
			return err
		}
		vgs = append(vgs, vg)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(vgs, func(i, j int) bool { return vgs[i].Name < vgs[j].Name })
	return vgs, nil
}

func (c *Catalog) getVGByIDLocked(ctx context.Context, id string) (VG, error) {
	data, err := c.rs.GetRecord(ctx, blob.RecordVG, id)
	if errors.Is(err, blob.ErrNotFound) {
		return VG{}, fmt.Errorf("volume group %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return VG{}, fmt.Errorf("read volume group %s: %w", id, err)
	}
	return decodeVG(id, data)
}

func (c *Catalog) getVGLocked(ctx context.Context, nameOrID string) (VG, error) {
	// Names never look like identifiers (ValidateName), so this is
	// unambiguous.
	if isID(vgPrefix, nameOrID) {
		return c.getVGByIDLocked(ctx, nameOrID)
	}
	vgs, err := c.listVGsLocked(ctx)
	if err != nil {
		return VG{}, fmt.Errorf("find volume group %q: %w", nameOrID, err)
	}
	for _, vg := range vgs {
		if vg.Name == nameOrID {
			return vg, nil
		}
	}
	return VG{}, fmt.Errorf("volume group %q: %w", nameOrID, ErrNotFound)
}
