// Package apiconv turns the delta and replica engines' results into the
// API's types. The daemon answers with them and the CLI builds the same
// answers in-process on a host without vmrepd (doc/design.md, "Daemonless
// target side"), so both print and emit exactly the same fields.
package apiconv

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/replica"
)

// Summary is a delta apply's or export's summary.
func Summary(s delta.Summary) api.DeltaSummary {
	return api.DeltaSummary{Volumes: s.Volumes, Records: s.Records, DataBytes: s.DataBytes, ZeroBytes: s.ZeroBytes,
		CopyBytes: s.CopyBytes, TargetCopyBytes: s.TargetCopyBytes,
		StoredBytes: s.StoredBytes, FileBytes: s.FileBytes, Written: s.Written, Skipped: s.Skipped,
		ChangedBytes: s.ChangedBytes, Verified: s.Verified}
}

// Replica is the replica in dir whose state is st.
func Replica(dir string, st *replica.State) api.ReplicaResult {
	out := api.ReplicaResult{Dir: dir, VGID: st.VGID, VGName: st.VGName, SnapshotID: st.SnapshotID, Seq: st.Seq,
		Volumes: make([]api.ReplicaVolume, len(st.Volumes))}
	for i, v := range st.Volumes {
		out.Volumes[i] = api.ReplicaVolume{ID: v.ID, Name: v.Name, Role: string(v.Role), Size: v.Size,
			Manifest: v.Manifest.String(), SnapshotID: v.SnapshotID, Seq: v.Seq}
	}
	return out
}

// Verify is a replica verify's result, with the checks that failed, in
// order.
func Verify(dir string, st *replica.State, checks []replica.VolumeCheck) (api.ReplicaVerifyResult, []replica.VolumeCheck) {
	res := api.ReplicaVerifyResult{Dir: dir, VGID: st.VGID, VGName: st.VGName, OK: true,
		Volumes: make([]api.ReplicaCheck, len(checks))}
	var bad []replica.VolumeCheck
	for i, c := range checks {
		res.Volumes[i] = api.ReplicaCheck{ID: c.ID, Name: c.Name, File: c.File, SnapshotID: c.SnapshotID,
			Seq: c.Seq, Against: c.Against, OK: c.OK, MismatchOffset: c.MismatchOffset,
			MismatchLength: c.MismatchLength, Mismatches: c.Mismatches, Problem: c.Problem}
		if !c.OK {
			res.OK = false
			bad = append(bad, c)
		}
	}
	return res, bad
}

// DeltaInfo is what delta show prints of the delta rd opened at path: its
// header, its parts, each volume's records summed by kind, its digest and
// its size on disk. It walks every record, so rd must have been opened
// with delta.Open (every checksum checked, Digest set).
func DeltaInfo(ctx context.Context, rd *delta.Reader, path string) (api.DeltaInfo, error) {
	h := &rd.Header
	info := api.DeltaInfo{Path: path, VGID: h.VGID, VGName: h.VGName, BaseID: h.Base.ID, BaseSeq: h.Base.Seq,
		TargetID: h.Target.ID, TargetSeq: h.Target.Seq, Volumes: make([]api.DeltaVolume, len(h.Volumes)),
		Digest: rd.Digest.String(), Split: len(h.Parts) > 0}
	for i, v := range h.Volumes {
		dv := api.DeltaVolume{ID: v.ID, Name: v.Name, Role: string(v.Role), Added: v.Added, BaseSize: v.BaseSize,
			TargetManifest: v.TargetManifest.String(), TargetSize: v.TargetSize}
		if !v.Added {
			dv.BaseManifest = v.BaseManifest.String()
		}
		info.Volumes[i] = dv
	}
	for _, p := range h.Parts {
		info.Parts = append(info.Parts, api.DeltaPart{File: p.File, Volume: p.Volume, Size: p.Size,
			Records: p.Records, BLAKE3: p.BLAKE3.String()})
	}
	err := rd.Walk(ctx, false, func(rec *delta.Record) error {
		if rec.Volume < 0 || rec.Volume >= len(info.Volumes) {
			return fmt.Errorf("%w: record names volume %d of %d", delta.ErrFormat, rec.Volume, len(info.Volumes))
		}
		v := &info.Volumes[rec.Volume]
		v.Records++
		switch rec.Kind {
		case delta.KindData:
			v.DataBytes += rec.Len
			v.StoredBytes += int64(len(rec.Stored))
		case delta.KindCopy:
			v.CopyBytes += rec.Len
		case delta.KindTargetCopy:
			v.TargetCopyBytes += rec.Len
		default:
			v.ZeroBytes += rec.Len
		}
		return nil
	})
	if err != nil {
		return api.DeltaInfo{}, fmt.Errorf("read delta %s: %w", path, err)
	}
	if info.FileBytes, err = delta.DiskSize(path); err != nil {
		return api.DeltaInfo{}, fmt.Errorf("size of delta %s: %w", path, err)
	}
	return info, nil
}
