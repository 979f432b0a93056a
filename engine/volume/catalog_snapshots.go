package volume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"
)

// PutSnapshot stores a new snapshot record. The caller MUST have made every
// page and chunk the snapshot names durable (BlobWriter.Flush) first. The
// sequence number must have come from ReserveSeq, and a snapshot record is
// never overwritten: snapshots are immutable.
func (c *Catalog) PutSnapshot(ctx context.Context, s Snapshot) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("put snapshot: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	vg, err := c.getVGByIDLocked(ctx, s.VGID)
	if err != nil {
		return fmt.Errorf("put snapshot %s: %w", s.Name(), err)
	}
	if s.Seq >= vg.NextSeq {
		return fmt.Errorf("put snapshot %s: sequence number %d was not reserved (next is %d)", s.Name(), s.Seq, vg.NextSeq)
	}
	name := snapshotName(s.VGID, s.Seq)
	_, err = c.rs.GetRecord(ctx, blob.RecordSnapshot, name)
	switch {
	case err == nil:
		return fmt.Errorf("put snapshot %s: %w", s.Name(), ErrExists)
	case !errors.Is(err, blob.ErrNotFound):
		return fmt.Errorf("put snapshot %s: %w", s.Name(), err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("put snapshot %s: encode: %w", s.Name(), err)
	}
	if err := c.rs.PutRecord(ctx, blob.RecordSnapshot, name, data); err != nil {
		return fmt.Errorf("put snapshot %s: %w", s.Name(), err)
	}
	return nil
}

// ListSnapshots returns a VG's snapshots by sequence number.
func (c *Catalog) ListSnapshots(ctx context.Context, vgID string) ([]Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	snaps, err := c.listSnapshotsLocked(ctx, vgID)
	if err != nil {
		return nil, fmt.Errorf("list snapshots of volume group %s: %w", vgID, err)
	}
	return snaps, nil
}

// GetSnapshot returns snapshot seq of a VG.
func (c *Catalog) GetSnapshot(ctx context.Context, vgID string, seq uint64) (Snapshot, error) {
	name := snapshotName(vgID, seq)
	data, err := c.rs.GetRecord(ctx, blob.RecordSnapshot, name)
	if errors.Is(err, blob.ErrNotFound) {
		return Snapshot{}, fmt.Errorf("volume group %s has no snapshot %d: %w", vgID, seq, ErrNotFound)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("read snapshot %d of volume group %s: %w", seq, vgID, err)
	}
	return decodeSnapshot(name, data)
}

// Latest returns the VG's snapshot with the highest sequence number.
func (c *Catalog) Latest(ctx context.Context, vgID string) (Snapshot, error) {
	snaps, err := c.ListSnapshots(ctx, vgID)
	if err != nil {
		return Snapshot{}, err
	}
	if len(snaps) == 0 {
		return Snapshot{}, fmt.Errorf("volume group %s has no snapshots: %w", vgID, ErrNotFound)
	}
	return snaps[len(snaps)-1], nil
}

// DeleteSnapshot removes a snapshot's record; its blobs stay until gc.
func (c *Catalog) DeleteSnapshot(ctx context.Context, vgID string, seq uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := snapshotName(vgID, seq)
	if _, err := c.rs.GetRecord(ctx, blob.RecordSnapshot, name); err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return fmt.Errorf("delete snapshot: volume group %s has no snapshot %d: %w", vgID, seq, ErrNotFound)
		}
		return fmt.Errorf("delete snapshot %d of volume group %s: %w", seq, vgID, err)
	}
	if err := c.rs.DeleteRecord(ctx, blob.RecordSnapshot, name); err != nil {
		return fmt.Errorf("delete snapshot %d of volume group %s: %w", seq, vgID, err)
	}
	return nil
}

// Resolve finds the VG and snapshot a reference such as "web@2",
// "web@latest" or "vg-0123456789abcdef@1" names.
func (c *Catalog) Resolve(ctx context.Context, ref string) (VG, Snapshot, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return VG{}, Snapshot{}, err
	}
	return c.ResolveRef(ctx, r)
}

// ResolveRef is Resolve for a parsed reference. A missing snapshot is
// named by the VG's name, whichever way the reference named the VG.
func (c *Catalog) ResolveRef(ctx context.Context, r Ref) (VG, Snapshot, error) {
	vg, err := c.GetVG(ctx, r.VG)
	if errors.Is(err, ErrNotFound) {
		return VG{}, Snapshot{}, err // names the VG already, as everywhere else
	}
	if err != nil {
		return VG{}, Snapshot{}, fmt.Errorf("resolve %s: %w", r, err)
	}
	if r.Latest {
		s, err := c.Latest(ctx, vg.ID)
		if errors.Is(err, ErrNotFound) {
			return VG{}, Snapshot{}, notFoundf("snapshot %s@latest does not exist: volume group %q has no snapshots", vg.Name, vg.Name)
		}
		if err != nil {
			return VG{}, Snapshot{}, fmt.Errorf("resolve %s: %w", r, err)
		}
		return vg, s, nil
	}
	s, err := c.GetSnapshot(ctx, vg.ID, r.Seq)
	if errors.Is(err, ErrNotFound) {
		return VG{}, Snapshot{}, notFoundf("snapshot %s@%d does not exist", vg.Name, r.Seq)
	}
	if err != nil {
		return VG{}, Snapshot{}, fmt.Errorf("resolve %s: %w", r, err)
	}
	return vg, s, nil
}

func decodeSnapshot(name string, data []byte) (Snapshot, error) {
	var s Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot record %s: %w", name, err)
	}
	if err := s.Validate(); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot record %s: %w", name, err)
	}
	if want := snapshotName(s.VGID, s.Seq); want != name {
		return Snapshot{}, fmt.Errorf("snapshot record %s holds snapshot %s", name, want)
	}
	return s, nil
}

func (c *Catalog) listSnapshotsLocked(ctx context.Context, vgID string) ([]Snapshot, error) {
	var snaps []Snapshot
	// VG IDs have a fixed length, so this prefix matches one VG only, and
	// the fixed-width hex sequence numbers make name order seq order.
	err := c.rs.ListRecords(ctx, blob.RecordSnapshot, vgID+"-", func(name string, data []byte) error {
		s, err := decodeSnapshot(name, data)
		if err != nil {
			return err
		}
		snaps = append(snaps, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return snaps, nil
}

// notFound is an ErrNotFound whose message is whole on its own, with no
// ": not found" tail.
type notFound struct{ msg string }

func (e notFound) Error() string { return e.msg }
func (e notFound) Unwrap() error { return ErrNotFound }

func notFoundf(format string, args ...any) error { return notFound{fmt.Sprintf(format, args...)} }
