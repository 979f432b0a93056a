package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/durable"
	"github.com/vmrep/vmrep/internal/vfs"
)

// StateName is the replica's state file.
const StateName = "state.json"

// State is what a replica holds. Each volume carries its own snapshot so
// volumes can be created and moved forward one at a time; the top-level
// snapshot is set when every volume is at the same one.
type State struct {
	Version    int           `json:"version"`
	VGID       string        `json:"vg_id"`
	VGName     string        `json:"vg_name"`
	SnapshotID string        `json:"snapshot_id,omitempty"`
	Seq        uint64        `json:"seq,omitempty"`
	Volumes    []VolumeState `json:"volumes"`
	// Chunker names the chunker parameters of the store that last wrote
	// the replica, which its manifest IDs were cut with: a verify without
	// the snapshot chunks the volumes again with these. Absent in replicas
	// written before it was recorded.
	Chunker *blob.ChunkerParams `json:"chunker,omitempty"`
}

// VolumeState is one volume file of a replica.
type VolumeState struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Role       volume.Role `json:"role"`
	Size       int64       `json:"size"`
	Manifest   blob.ID     `json:"manifest"`
	SnapshotID string      `json:"snapshot_id"`
	Seq        uint64      `json:"seq"`
}

// VolumePath is where a replica keeps a volume: a sparse file or a symlink
// to a block device.
func VolumePath(dir, volumeID string) string { return filepath.Join(dir, volumeID+".img") }

// ReadState reads dir's state file; a missing one is an empty state.
func ReadState(ctx context.Context, dir string) (*State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return readState(vfs.Default, dir)
}

// readState is ReadState on fsys.
func readState(fsys vfs.FS, dir string) (*State, error) {
	b, err := fsys.ReadFile(filepath.Join(dir, StateName))
	if errors.Is(err, os.ErrNotExist) {
		return &State{Version: 1}, nil
	} else if err != nil {
		return nil, fmt.Errorf("read replica state in %s: %w", dir, err)
	}
	s := new(State)
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("read replica state in %s: %w", dir, err)
	}
	return s, nil
}

func (s *State) volume(id string) *VolumeState {
	for i := range s.Volumes {
		if s.Volumes[i].ID == id {
			return &s.Volumes[i]
		}
	}
	return nil
}

func (s *State) set(v VolumeState) {
	if p := s.volume(v.ID); p != nil {
		*p = v
	} else {
		s.Volumes = append(s.Volumes, v)
	}
	s.SnapshotID, s.Seq = v.SnapshotID, v.Seq
	for _, o := range s.Volumes {
		if o.SnapshotID != v.SnapshotID {
			s.SnapshotID, s.Seq = "", 0
		}
	}
}

// writeState replaces dir's state file atomically.
func writeState(fsys vfs.FS, dir string, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := durable.WriteFileFS(fsys, filepath.Join(dir, StateName), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write replica state in %s: %w", dir, err)
	}
	return nil
}

// ReplicaOptions tune CreateReplica.
type ReplicaOptions struct {
	Volume string // create only this volume (ID or name); empty: all
	// Replace lets a directory holding another volume group's replica be
	// taken over: its state starts afresh (its volume files stay).
	Replace bool
	// Chunker, when set, is recorded in the state (see State.Chunker).
	Chunker *blob.ChunkerParams
	Restore restore.Options
}

// CreateReplica writes snap's volumes into dir as <volume-id>.img (sparse
// files, or through existing symlinks to block devices) and records them in
// the state file, last.
func CreateReplica(ctx context.Context, r blob.Reader, snap volume.Snapshot, dir string, opts ReplicaOptions) (*State, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create replica of %s in %s: %w", snap.Name(), dir, err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := removeStaleTemps(vfs.Default, dir); err != nil {
		return nil, err
	}
	st, err := ReadState(ctx, dir)
	if err != nil {
		return nil, err
	}
	afresh := st.VGID != "" && st.VGID != snap.VGID && opts.Replace
	if afresh {
		st = &State{Version: 1}
	}
	if st.VGID != "" && st.VGID != snap.VGID {
		return nil, fmt.Errorf("create replica of %s in %s: the directory holds volume group %s", snap.Name(), dir, st.VGID)
	}
	st.VGID, st.VGName = snap.VGID, snap.VGName
	found := false
	var written []string
	for _, v := range snap.Volumes {
		if opts.Volume != "" && opts.Volume != v.VolumeID && opts.Volume != v.Name {
			continue
		}
		found = true
		m, err := volume.LoadManifest(ctx, r, v.Manifest)
		if err != nil {
			return nil, fmt.Errorf("create replica of %s volume %q: %w", snap.Name(), v.Name, err)
		}
		if _, err := restore.ToPath(ctx, r, m, VolumePath(dir, v.VolumeID), opts.Restore); err != nil {
			return nil, fmt.Errorf("create replica of %s volume %q: %w", snap.Name(), v.Name, err)
		}
		st.set(VolumeState{ID: v.VolumeID, Name: v.Name, Role: v.Role, Size: v.Size, Manifest: v.Manifest,
			SnapshotID: snap.ID, Seq: snap.Seq})
		written = append(written, v.VolumeID)
	}
	if !found {
		return nil, fmt.Errorf("create replica of %s: no volume %q", snap.Name(), opts.Volume)
	}
	if opts.Chunker != nil {
		st.Chunker = opts.Chunker
	}
	if err := writeState(vfs.Default, dir, st); err != nil {
		return nil, err
	}
	if err := forgetApply(dir, written, afresh); err != nil {
		return nil, fmt.Errorf("create replica of %s in %s: %w", snap.Name(), dir, err)
	}
	return st, nil
}

// removeStaleTemps removes the temporary copies of the state file and the
// journal that a writer killed before its rename left in dir: they hold
// nothing the replica needs (the rename is what makes them count), and a
// rerun would otherwise leave the directory different from a clean one.
// The daemon writes a replica only under its lock, so no live writer owns
// them.
func removeStaleTemps(fsys vfs.FS, dir string) error {
	if _, err := durable.RemoveWriteTemps(fsys, dir, StateName, JournalName); err != nil {
		return fmt.Errorf("replica %s: %w", dir, err)
	}
	return nil
}
