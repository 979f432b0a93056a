package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/volume"
)

// putVG creates or updates a VG record with the sender's identifiers, so a
// volume is known by one ID in both environments. Source paths and capture
// settings stay behind: this daemon never reads the sender's disks. A VG
// that exists is written only by the source that created it (Origin),
// keeps its name, and keeps every volume its snapshots name
// (volume.ErrVolumeInUse); a refusal changes nothing.
func (rs *ReplicationServer) putVG(w http.ResponseWriter, r *http.Request, t *tenant) error {
	src, e := replSource(r)
	if e != nil {
		return e
	}
	var req api.ReplVG
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	vg := volume.VG{ID: req.ID, Name: req.Name, NextSeq: max(req.NextSeq, 1), Origin: src, Volumes: make([]volume.Volume, len(req.Volumes))}
	for i, v := range req.Volumes {
		vg.Volumes[i] = volume.Volume{ID: v.ID, Name: v.Name, Role: volume.Role(v.Role), Size: v.Size, Format: v.Format}
	}
	if err := vg.Validate(); err != nil {
		return api.Errorf(api.CodeInvalid, "replicated volume group: %v", err)
	}
	unlock, e := t.writers.tryLock(vg.ID, vg.Name, "a replication")
	if e != nil {
		return e
	}
	defer unlock()
	ctx := r.Context()
	old, err := t.cat.GetVG(ctx, vg.ID)
	switch {
	case errors.Is(err, volume.ErrNotFound):
		next := vg.NextSeq
		if vg, err = t.cat.CreateVG(ctx, vg); err == nil && next > vg.NextSeq {
			vg.NextSeq = next
			err = t.cat.UpdateVG(ctx, vg)
		}
		if err == nil {
			rs.s.log.Info("replicated volume group created", "vg", vg.Name, "id", vg.ID, "remote", r.RemoteAddr)
		}
	case err == nil:
		if e := checkOrigin(old, src, true); e != nil {
			return e
		}
		if old.Name != vg.Name {
			return api.Errorf(api.CodeConflict, "volume group %s is %q here; a replication may not rename it to %q", vg.ID, old.Name, vg.Name)
		}
		snaps, lerr := t.cat.ListSnapshots(ctx, old.ID)
		if lerr != nil {
			return lerr
		}
		if e := checkSealedSend(old.Name, newestSealed(snaps), req.Sealed); e != nil {
			return e
		}
		for _, sn := range snaps {
			if req.Sealed != "" && sn.Seq == req.Seq && sn.Sealed() == "" {
				return api.Errorf(api.CodeConflict, "%s is already here in clear: sealing it now would protect nothing; send a later snapshot with --encrypt-for", sn.Name())
			}
		}
		if err = t.cat.UpdateVG(ctx, vg); err == nil && old.Origin == "" {
			rs.s.log.Info("replicated volume group adopted by its source", "vg", vg.Name, "id", vg.ID, "source", src, "remote", r.RemoteAddr)
		}
	}
	if errors.Is(err, volume.ErrVolumeInUse) {
		return err // names the VG, the snapshot and the volume already
	}
	if err != nil {
		return fmt.Errorf("replicate volume group %q (%s): %w", req.Name, req.ID, err)
	}
	return rs.answerVG(w, r, t, vg.ID)
}

func (rs *ReplicationServer) answerVG(w http.ResponseWriter, r *http.Request, t *tenant, id string) error {
	vg, err := t.cat.GetVG(r.Context(), id)
	if err != nil {
		return err
	}
	snaps, err := t.cat.ListSnapshots(r.Context(), vg.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIVG(vg, snaps))
	return nil
}

// missing answers which of a batch of blob IDs the store lacks. The body
// is the IDs back to back, 32 bytes each, at most api.MaxMissingBatch.
func (rs *ReplicationServer) missing(w http.ResponseWriter, r *http.Request, t *tenant) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, api.MaxMissingBatch*32))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return api.Errorf(api.CodeTooLarge, "more than %d ids in one batch", api.MaxMissingBatch)
	case err != nil:
		return api.Errorf(api.CodeInvalid, "reading ids: %v", err)
	case len(body)%32 != 0:
		return api.Errorf(api.CodeInvalid, "body of %d bytes is not a whole number of 32-byte ids", len(body))
	}
	res := api.ReplMissingResult{Missing: []int{}}
	for i := 0; i < len(body)/32; i++ {
		ok, err := t.store.Has(r.Context(), blob.ID(body[i*32:i*32+32]))
		if err != nil {
			return fmt.Errorf("looking up blob %d of the batch: %w", i, err)
		}
		if !ok {
			res.Missing = append(res.Missing, i)
		}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// putSnapshot commits a replicated snapshot record, following the write
// order: flush every pending blob, then check that each page and chunk the
// manifests name is committed in the index, then write the record. A
// snapshot naming a blob the store lacks is refused and nothing changes.
func (rs *ReplicationServer) putSnapshot(w http.ResponseWriter, r *http.Request, t *tenant) error {
	src, e := replSource(r)
	if e != nil {
		return e
	}
	var req api.Snapshot
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	sn, e := fromAPISnapshot(req)
	if e != nil {
		return e
	}
	ctx := r.Context()
	vg, err := t.cat.GetVG(ctx, sn.VGID)
	if err != nil {
		return fmt.Errorf("replicated snapshot %s: volume group: %w (send the volume group first)", sn.Name(), err)
	}
	if e := checkOrigin(vg, src, false); e != nil {
		return e
	}
	for _, v := range sn.Volumes {
		if _, ok := vg.Volume(v.VolumeID); !ok {
			return api.Errorf(api.CodeInvalid, "replicated snapshot %s: volume %s is not in volume group %s", sn.Name(), v.VolumeID, vg.ID)
		}
	}
	unlock, e := t.writers.tryLock(vg.ID, vg.Name, "a replication")
	if e != nil {
		return e
	}
	defer unlock()
	release, err := rs.s.jobs.holdBucket(r.Context(), "a replicated snapshot commit")
	if err != nil {
		return err
	}
	defer release()
	snaps, err := t.cat.ListSnapshots(ctx, vg.ID)
	if err != nil {
		return err
	}
	if e := checkSealedRecord(vg.Name, sn, newestSealed(snaps)); e != nil {
		return e
	}
	if old, err := t.cat.GetSnapshot(ctx, vg.ID, sn.Seq); err == nil {
		if old.ID != sn.ID {
			return api.Errorf(api.CodeConflict, "%s is snapshot %s here, not %s", sn.Name(), old.ID, sn.ID)
		}
		writeJSON(w, http.StatusOK, api.ReplSnapshotResult{Snapshot: toAPISnapshot(old)})
		return nil
	} else if !errors.Is(err, volume.ErrNotFound) {
		return err
	}
	if err := t.store.Flush(ctx); err != nil {
		return fmt.Errorf("replicated snapshot %s: flush: %w", sn.Name(), err)
	}
	if err := checkCommitted(ctx, t.store, sn); err != nil {
		return err
	}
	if vg.NextSeq <= sn.Seq {
		vg.NextSeq = sn.Seq + 1
		if err := t.cat.UpdateVG(ctx, vg); err != nil {
			return fmt.Errorf("replicated snapshot %s: %w", sn.Name(), err)
		}
	}
	if err := t.cat.PutSnapshot(ctx, sn); err != nil {
		return err
	}
	rs.s.log.Info("replicated snapshot committed", "snapshot", sn.Name(), "id", sn.ID, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusCreated, api.ReplSnapshotResult{Snapshot: toAPISnapshot(sn), Committed: true})
	return nil
}

// fromAPISnapshot turns a wire snapshot into a validated record.
func fromAPISnapshot(a api.Snapshot) (volume.Snapshot, *api.Error) {
	sn := volume.Snapshot{ID: a.ID, VGID: a.VGID, VGName: a.VGName, Seq: a.Seq, Parent: a.Parent,
		Created: a.Created, Volumes: make([]volume.VolumeSnapshot, len(a.Volumes))}
	for i, v := range a.Volumes {
		m, err := blob.ParseID(v.Manifest)
		if err != nil {
			return sn, api.Errorf(api.CodeInvalid, "snapshot %s volume %q: manifest: %v", a.ID, v.Name, err)
		}
		sn.Volumes[i] = volume.VolumeSnapshot{VolumeID: v.VolumeID, Name: v.Name, Role: volume.Role(v.Role),
			Size: v.Size, Manifest: m, DataBytes: v.DataBytes, Chunks: v.Chunks, Holes: v.Holes,
			NewBytes: v.NewBytes, Sealed: v.Sealed, SealedTag: v.SealedTag}
		if v.StoredBytes != nil {
			sn.Volumes[i].StoredBytes, sn.Volumes[i].StoredCounted = *v.StoredBytes, true
		}
	}
	if err := sn.Validate(); err != nil {
		return sn, api.Errorf(api.CodeInvalid, "replicated snapshot: %v", err)
	}
	return sn, nil
}

// blobLookup finds committed blobs only; pending ones are not durable yet.
type blobLookup interface {
	blob.Reader
	Lookup(ctx context.Context, id blob.ID) (cas.Location, error)
}

// checkCommitted walks every manifest of sn and checks that its top page,
// pages and chunks are committed, and that each manifest's size is the
// volume's.
func checkCommitted(ctx context.Context, st blobLookup, sn volume.Snapshot) error {
	seen := make(map[blob.ID]bool)
	need := func(t blob.Type, id blob.ID) error {
		if seen[id] {
			return nil
		}
		if _, err := st.Lookup(ctx, id); err != nil {
			if errors.Is(err, blob.ErrNotFound) {
				return api.Errorf(api.CodeConflict, "replicated snapshot %s names %s %s, which this store lacks; send the blobs first", sn.Name(), t, id)
			}
			return fmt.Errorf("replicated snapshot %s: %s %s: %w", sn.Name(), t, id, err)
		}
		seen[id] = true
		return nil
	}
	var p volume.Page
	var buf []byte
	for _, v := range sn.Volumes {
		if err := need(blob.Page, v.Manifest); err != nil {
			return err
		}
		m, err := volume.LoadManifest(ctx, st, v.Manifest)
		if err != nil {
			return fmt.Errorf("replicated snapshot %s volume %q: %w", sn.Name(), v.Name, err)
		}
		if m.Size != v.Size {
			return api.Errorf(api.CodeInvalid, "replicated snapshot %s volume %q: manifest is %d bytes, record says %d", sn.Name(), v.Name, m.Size, v.Size)
		}
		for i, ref := range m.Pages {
			if seen[ref.ID] {
				continue // a page's chunks were checked with it
			}
			if err := need(blob.Page, ref.ID); err != nil {
				return err
			}
			if buf, err = m.LoadPageInto(ctx, st, i, &p, buf); err != nil {
				return fmt.Errorf("replicated snapshot %s volume %q: %w", sn.Name(), v.Name, err)
			}
			for _, e := range p.Entries {
				if !e.Hole {
					if err := need(blob.Chunk, e.ID); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}
