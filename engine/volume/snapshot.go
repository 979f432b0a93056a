package volume

import (
	"fmt"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
)

// Snapshot is the state of every volume of a VG at one time. Snapshots are
// immutable once their record is written.
type Snapshot struct {
	ID      string           `json:"id"`
	VGID    string           `json:"vg_id"`
	VGName  string           `json:"vg_name"` // the VG's name when the snapshot was taken
	Seq     uint64           `json:"seq"`
	Parent  string           `json:"parent,omitempty"` // snapshot ID, empty for the first
	Created time.Time        `json:"created"`
	Volumes []VolumeSnapshot `json:"volumes"`
}

// VolumeSnapshot is one volume of a snapshot: what it was and the manifest of
// its bytes, with counts taken when the manifest was written.
type VolumeSnapshot struct {
	VolumeID  string  `json:"volume_id"`
	Name      string  `json:"name"`
	Role      Role    `json:"role"`
	Size      int64   `json:"size"`
	Manifest  blob.ID `json:"manifest"`
	DataBytes int64   `json:"data_bytes"` // bytes in chunks (size minus holes)
	Chunks    int64   `json:"chunks"`
	Holes     int64   `json:"holes"`
	// NewBytes is the raw size of chunks this snapshot added to the store;
	// StoredBytes what the chunks and manifest pages it added took there,
	// after compression. StoredCounted says StoredBytes was counted: records
	// written before it was always hold 0, which means "not known".
	NewBytes      int64 `json:"new_bytes"`
	StoredBytes   int64 `json:"stored_bytes"`
	StoredCounted bool  `json:"stored_counted,omitempty"`
	// SourceSize and SourceMtime (Unix nanoseconds) are the raw source
	// file's size and modification time when it was read, so that the next
	// snapshot can tell an untouched file without reading it. Zero when the
	// source is not a plain raw file.
	SourceSize  int64 `json:"source_size,omitempty"`
	SourceMtime int64 `json:"source_mtime,omitempty"`
	// SourceFile names the file read as "device:inode", so that a file
	// renamed since (as when it became an overlay's backing file) is known.
	SourceFile string `json:"source_file,omitempty"`
	// ReadBytes is what the snapshot read from the source: less than the
	// size when holes were skipped or a changed-block hint held.
	ReadBytes int64 `json:"read_bytes,omitempty"`
	// BaseBytes is what the snapshot took from the last snapshot's chunks
	// in place of reading the source: the unchanged bytes around a change
	// a dirty bitmap marked, which chunking needs as context.
	BaseBytes int64 `json:"base_bytes,omitempty"`
	// DirtyBitmap names the QEMU dirty bitmap that tracks the volume's
	// writes since this snapshot (a source read over NBD with QMP), so that
	// the next snapshot reads only what it marks.
	DirtyBitmap string `json:"dirty_bitmap,omitempty"`
	// ReadNote says how a tracked source was read: the changes a dirty
	// bitmap marked, or in full and why (the chain broke).
	ReadNote string `json:"read_note,omitempty"`
	// Sealed is set on a replication server for a volume whose source
	// sealed its chunks (replicate --encrypt-for): the fingerprint of the
	// key. The manifest keeps the volume's geometry (offsets, lengths,
	// holes) but names sealed chunks, which only that key opens.
	Sealed string `json:"sealed,omitempty"`
	// SealedTag binds the sealed manifest to this snapshot and volume
	// under the source's key (seal.SourceKeys.VolumeTag): hydration
	// refuses a manifest the server or the bucket altered.
	SealedTag string `json:"sealed_tag,omitempty"`
}

// Sealed reports the fingerprint of the key that sealed the snapshot's
// chunks at its source, or "" when the store can read them.
func (s *Snapshot) Sealed() string {
	for _, v := range s.Volumes {
		if v.Sealed != "" {
			return v.Sealed
		}
	}
	return ""
}

// Volume finds a volume of the snapshot by name or volume identifier.
func (s *Snapshot) Volume(nameOrID string) (VolumeSnapshot, bool) {
	for _, v := range s.Volumes {
		if v.Name == nameOrID || v.VolumeID == nameOrID {
			return v, true
		}
	}
	return VolumeSnapshot{}, false
}

// Name returns "vgname@seq", for messages.
func (s *Snapshot) Name() string { return fmt.Sprintf("%s@%d", s.VGName, s.Seq) }

// Validate checks every field of a snapshot record.
func (s *Snapshot) Validate() error {
	if err := checkID("snapshot", snapshotPrefix, s.ID); err != nil {
		return err
	}
	if err := checkID("volume group", vgPrefix, s.VGID); err != nil {
		return fmt.Errorf("snapshot %s: %w", s.ID, err)
	}
	if err := ValidateName("volume group", s.VGName); err != nil {
		return fmt.Errorf("snapshot %s: %w", s.ID, err)
	}
	if s.Seq == 0 {
		return fmt.Errorf("snapshot %s: sequence number 0 (numbers start at 1)", s.ID)
	}
	if s.Parent != "" {
		if err := checkID("parent snapshot", snapshotPrefix, s.Parent); err != nil {
			return fmt.Errorf("snapshot %s: %w", s.ID, err)
		}
	}
	if s.Created.IsZero() {
		return fmt.Errorf("snapshot %s: no creation time", s.ID)
	}
	if len(s.Volumes) == 0 {
		return fmt.Errorf("snapshot %s: no volumes", s.ID)
	}
	names := make(map[string]bool, len(s.Volumes))
	ids := make(map[string]bool, len(s.Volumes))
	boots := 0
	for _, v := range s.Volumes {
		if err := v.validate(); err != nil {
			return fmt.Errorf("snapshot %s: %w", s.ID, err)
		}
		if names[v.Name] || ids[v.VolumeID] {
			return fmt.Errorf("snapshot %s: volume %q (%s) appears twice", s.ID, v.Name, v.VolumeID)
		}
		names[v.Name], ids[v.VolumeID] = true, true
		if v.Role == RoleBoot {
			boots++
		}
	}
	if boots != 1 {
		return fmt.Errorf("snapshot %s: %d boot volumes, want exactly one", s.ID, boots)
	}
	return nil
}

func (v *VolumeSnapshot) validate() error {
	if err := ValidateName("volume", v.Name); err != nil {
		return err
	}
	if err := checkID("volume", volumePrefix, v.VolumeID); err != nil {
		return fmt.Errorf("volume %q: %w", v.Name, err)
	}
	if v.Role != RoleBoot && v.Role != RoleData {
		return fmt.Errorf("volume %q: invalid role %q", v.Name, v.Role)
	}
	if v.Manifest.IsZero() {
		return fmt.Errorf("volume %q: no manifest", v.Name)
	}
	for _, c := range []struct {
		what string
		n    int64
	}{{"size", v.Size}, {"data bytes", v.DataBytes}, {"chunks", v.Chunks}, {"holes", v.Holes}, {"new bytes", v.NewBytes}, {"stored bytes", v.StoredBytes}} {
		if c.n < 0 {
			return fmt.Errorf("volume %q: negative %s %d", v.Name, c.what, c.n)
		}
	}
	if v.DataBytes > v.Size {
		return fmt.Errorf("volume %q: %d data bytes in a volume of %d", v.Name, v.DataBytes, v.Size)
	}
	return nil
}
