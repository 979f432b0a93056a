package daemon

import (
	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/volume"
)

// toAPIVG describes vg and its snapshots, oldest first. A volume's size is
// the one its latest snapshot read (sources grow), and the size found at
// creation when no snapshot holds it yet.
func toAPIVG(vg volume.VG, snaps []volume.Snapshot) api.VG {
	out := api.VG{ID: vg.ID, Name: vg.Name, Created: vg.Created, Snapshots: len(snaps),
		Volumes: make([]api.Volume, len(vg.Volumes))}
	var latest volume.Snapshot
	if len(snaps) > 0 {
		latest = snaps[len(snaps)-1]
	}
	for i, v := range vg.Volumes {
		size := v.Size
		if vs, ok := latest.Volume(v.ID); ok {
			size = vs.Size
		}
		out.Volumes[i] = api.Volume{ID: v.ID, Name: v.Name, Role: string(v.Role), Size: size,
			Source: v.Source, Format: v.Format, QMP: v.QMP}
	}
	if !vg.Hooks.Empty() {
		out.PreSnapshot, out.PostSnapshot = vg.Hooks.Pre, vg.Hooks.Post
		out.HookTimeout = vg.Hooks.EffectiveTimeout().String()
	}
	out.LVMSnapshot = vg.LVMSnapshot != nil
	out.Sealed = newestSealed(snaps)
	return out
}

func toAPISnapshot(s volume.Snapshot) api.Snapshot {
	out := api.Snapshot{ID: s.ID, VGID: s.VGID, VGName: s.VGName, Seq: s.Seq, Parent: s.Parent,
		Created: s.Created, Volumes: make([]api.VolumeSnapshot, len(s.Volumes))}
	for i, v := range s.Volumes {
		out.Volumes[i] = api.VolumeSnapshot{VolumeID: v.VolumeID, Name: v.Name, Role: string(v.Role),
			Size: v.Size, Manifest: v.Manifest.String(), DataBytes: v.DataBytes, Chunks: v.Chunks,
			Holes: v.Holes, NewBytes: v.NewBytes, ReadBytes: v.ReadBytes, BaseBytes: v.BaseBytes, DirtyBitmap: v.DirtyBitmap, ReadNote: v.ReadNote, Sealed: v.Sealed, SealedTag: v.SealedTag}
		if v.StoredCounted {
			out.Volumes[i].StoredBytes = &v.StoredBytes
		}
	}
	return out
}
