package daemon

import (
	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/volume"
)

func toAPIVG(vg volume.VG, snapshots int) api.VG {
	out := api.VG{ID: vg.ID, Name: vg.Name, Created: vg.Created, Snapshots: snapshots,
		Volumes: make([]api.Volume, len(vg.Volumes))}
	for i, v := range vg.Volumes {
		out.Volumes[i] = api.Volume{ID: v.ID, Name: v.Name, Role: string(v.Role), Size: v.Size,
			Source: v.Source, Format: v.Format}
	}
	if !vg.Hooks.Empty() {
		out.PreSnapshot, out.PostSnapshot = vg.Hooks.Pre, vg.Hooks.Post
		out.HookTimeout = vg.Hooks.EffectiveTimeout().String()
	}
	out.LVMSnapshot = vg.LVMSnapshot != nil
	return out
}

func toAPISnapshot(s volume.Snapshot) api.Snapshot {
	out := api.Snapshot{ID: s.ID, VGID: s.VGID, VGName: s.VGName, Seq: s.Seq, Parent: s.Parent,
		Created: s.Created, Volumes: make([]api.VolumeSnapshot, len(s.Volumes))}
	for i, v := range s.Volumes {
		out.Volumes[i] = api.VolumeSnapshot{VolumeID: v.VolumeID, Name: v.Name, Role: string(v.Role),
			Size: v.Size, Manifest: v.Manifest.String(), DataBytes: v.DataBytes, Chunks: v.Chunks,
			Holes: v.Holes, NewBytes: v.NewBytes, StoredBytes: v.StoredBytes}
	}
	return out
}
