package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/volume"
)

// deviceBind is one volume a materialize writes into a block device.
type deviceBind struct {
	vol    volume.VolumeSnapshot
	device string // as the request named it, inside the device root
	real   string // the device node it resolves to
}

// checkDevices validates a materialize's devices against the operator's
// --device-root. This is a privilege boundary: a token holder may only
// have the server write block devices the operator exposed there (on OCI,
// /dev/oracleoci, the consistent paths of attached volumes), never the
// server's own disks. What it refuses leaves everything untouched.
func (rs *ReplicationServer) checkDevices(sn volume.Snapshot, devices map[string]string) ([]deviceBind, error) {
	if rs.devRoot == "" {
		return nil, api.Errorf(api.CodeForbidden, "this replication server has no device root (vmrepd --device-root); it writes no block devices")
	}
	vols := make(map[string]volume.VolumeSnapshot, len(sn.Volumes))
	for _, v := range sn.Volumes {
		vols[v.VolumeID] = v
	}
	seen := make(map[string]string)
	binds := make([]deviceBind, 0, len(devices))
	for id, dev := range devices {
		v, ok := vols[id]
		if !ok {
			return nil, api.Errorf(api.CodeInvalid, "device %q: %s has no volume %q", dev, sn.Name(), id)
		}
		if !filepath.IsAbs(dev) || filepath.Clean(dev) != dev || filepath.Dir(dev) != rs.devRoot {
			return nil, api.Errorf(api.CodeForbidden, "device %q of volume %s is not an entry of the device root %s", dev, id, rs.devRoot)
		}
		real, e := checkBlockDevice(dev)
		if e != nil {
			return nil, e
		}
		if other, dup := seen[real]; dup {
			return nil, api.Errorf(api.CodeInvalid, "device %q is bound to volumes %s and %s; a device backs one volume", dev, other, id)
		}
		seen[real] = id
		binds = append(binds, deviceBind{vol: v, device: dev, real: real})
	}
	// Volumes in the snapshot's order, so runs and answers are stable.
	order := make(map[string]int, len(sn.Volumes))
	for i, v := range sn.Volumes {
		order[v.VolumeID] = i
	}
	sort.Slice(binds, func(i, j int) bool { return order[binds[i].vol.VolumeID] < order[binds[j].vol.VolumeID] })
	return binds, nil
}

// checkBlockDevice follows dev to a block device that nothing holds: an
// exclusive open fails with EBUSY for a device that is mounted, swapped
// on, or part of a device-mapper or RAID device.
func checkBlockDevice(dev string) (string, *api.Error) {
	real, err := realPath(dev)
	if err != nil {
		return "", api.Errorf(api.CodeInvalid, "device %q: %v (is the volume attached?)", dev, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", api.Errorf(api.CodeInvalid, "device %q: %v", dev, err)
	}
	if !isBlockDevice(fi) {
		return "", api.Errorf(api.CodeForbidden, "device %q (%s) is not a block device", dev, real)
	}
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_EXCL, 0)
	if errors.Is(err, syscall.EBUSY) {
		return "", api.Errorf(api.CodeForbidden, "device %q (%s) is in use (mounted or held); it is not written", dev, real)
	} else if err != nil {
		return "", api.Errorf(api.CodeInvalid, "device %q: %v", dev, err)
	}
	f.Close()
	return real, nil
}

// bindDevices makes each volume's entry in dir a link to its device. An
// entry that is a regular file holds a volume written as a file, which a
// device must not silently replace.
func bindDevices(dir string, binds []deviceBind) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("materialize: %w", err)
	}
	for _, b := range binds {
		p := replica.VolumePath(dir, b.vol.VolumeID)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return fmt.Errorf("materialize: %w", err)
		case fi.Mode()&os.ModeSymlink == 0:
			return api.Errorf(api.CodeConflict, "replica entry %s of volume %s is a file, not a link to a device; it is not replaced", p, b.vol.VolumeID)
		default:
			if cur, err := os.Readlink(p); err == nil && cur == b.device {
				continue
			}
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("materialize: %w", err)
			}
		}
		if err := os.Symlink(b.device, p); err != nil {
			return fmt.Errorf("materialize: %w", err)
		}
	}
	return nil
}

// writeDevices brings each bound volume's device to sn: a device the
// replica's state has at sn is read back (and written whole if it
// differs); one at another snapshot of the VG that the store holds is
// moved by the delta from it, in place, for that volume alone; any other
// is written whole. Every device is read back against sn's manifest
// before the answer. Volumes not bound are not touched.
func (rs *ReplicationServer) writeDevices(ctx context.Context, t *tenant, rd blob.Reader, sn volume.Snapshot, dir string, binds []deviceBind) (*replica.State, []api.DeviceWrite, error) {
	st, err := replica.ReadState(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	if st.VGID != "" && st.VGID != sn.VGID {
		return nil, nil, api.Errorf(api.CodeConflict, "replica %s holds volume group %s, not %s", dir, st.VGName, sn.VGName)
	}
	deltas := &deviceDeltas{t: t, target: sn, dir: dir, files: map[uint64]string{}}
	defer deltas.close()
	out := make([]api.DeviceWrite, 0, len(binds))
	for _, b := range binds {
		w, err := rs.writeDevice(ctx, t, rd, sn, dir, st, b, deltas)
		if err != nil {
			return nil, nil, fmt.Errorf("materialize %s volume %q into %s: %w", sn.Name(), b.vol.Name, b.device, err)
		}
		out = append(out, w)
		if st, err = replica.ReadState(ctx, dir); err != nil {
			return nil, nil, err
		}
	}
	return st, out, nil
}

func (rs *ReplicationServer) writeDevice(ctx context.Context, t *tenant, rd blob.Reader, sn volume.Snapshot, dir string, st *replica.State, b deviceBind, deltas *deviceDeltas) (api.DeviceWrite, error) {
	v := b.vol
	w := api.DeviceWrite{VolumeID: v.VolumeID, Name: v.Name, Device: b.device}
	var vs *replica.VolumeState
	for i := range st.Volumes {
		if st.Volumes[i].ID == v.VolumeID {
			vs = &st.Volumes[i]
		}
	}
	check := func() error { return replica.CheckVolume(ctx, t.store, dir, v.VolumeID, v.Manifest, v.Size) }
	sealed := sn.Sealed() != ""
	if sealed {
		// Sealed: the manifest names sealed chunks, read back opened;
		// always written whole (no delta of sealed snapshots).
		check = func() error { return checkUnsealedVolume(ctx, rd, dir, v) }
	}
	switch {
	case vs != nil && vs.SnapshotID == sn.ID && vs.Manifest == v.Manifest:
		err := check()
		if err == nil {
			w.How, w.Verified = api.DeviceCurrent, true
			return w, nil
		}
		if !errors.Is(err, replica.ErrVolumeDiffers) {
			return w, err
		}
		w.Note = "the device did not hold what the replica's state says: " + err.Error()
	case vs != nil && vs.SnapshotID != "" && !sealed:
		path, err := deltas.from(ctx, vs.Seq, vs.SnapshotID)
		if err != nil {
			return w, err
		}
		if path != "" {
			sum, err := applyOne(ctx, path, dir, v.VolumeID, t)
			if err == nil {
				w.How, w.From, w.WrittenBytes, w.Verified = api.DeviceDelta, vs.Seq, sum.ChangedBytes, true
				return w, nil
			}
			if ctx.Err() != nil {
				return w, err
			}
			w.Note = "delta refused, written whole: " + err.Error()
			rs.s.log.Warn("materialize: delta refused, writing the volume whole", "volume", v.VolumeID, "device", b.device, "err", err)
		} else {
			w.Note = fmt.Sprintf("the store no longer holds %s@%d, written whole", sn.VGName, vs.Seq)
		}
	}
	if _, err := replica.CreateReplica(ctx, rd, sn, dir, replica.ReplicaOptions{Volume: v.VolumeID, Chunker: t.chunkerParams()}); err != nil {
		return w, err
	}
	if err := check(); err != nil {
		return w, err
	}
	w.How, w.WrittenBytes, w.Verified = api.DeviceFull, v.Size, true
	return w, nil
}

// applyOne applies the delta file at path to one volume of the replica,
// hashing the whole volume against the target manifest after.
func applyOne(ctx context.Context, path, dir, volumeID string, t *tenant) (delta.Summary, error) {
	rd, err := delta.OpenForApply(ctx, path)
	if err != nil {
		return delta.Summary{}, err
	}
	return replica.Apply(ctx, rd, dir, replica.ApplyOptions{Volume: volumeID, Verify: replica.VerifyFull,
		Blobs: t.store, Chunker: t.chunkerParams()})
}

// deviceDeltas exports each delta base..target once, however many volumes
// start from that base, into a temporary directory beside the replica.
type deviceDeltas struct {
	t      *tenant
	target volume.Snapshot
	dir    string
	tmp    string
	files  map[uint64]string // base seq -> delta file; "" when the store lacks the base
	done   []func()
}

// from returns the delta from the snapshot at seq (whose ID the replica
// records) to the target, or "" when the store no longer holds it.
func (d *deviceDeltas) from(ctx context.Context, seq uint64, id string) (string, error) {
	if p, ok := d.files[seq]; ok {
		return p, nil
	}
	base, err := d.t.cat.GetSnapshot(ctx, d.target.VGID, seq)
	if errors.Is(err, volume.ErrNotFound) || err == nil && base.ID != id {
		d.files[seq] = ""
		return "", nil
	} else if err != nil {
		return "", err
	}
	d.done = append(d.done, d.t.known.writingReplica(base)) // keeps the base through the export
	if d.tmp == "" {
		if d.tmp, err = os.MkdirTemp(filepath.Dir(d.dir), ".vmrep-delta-"); err != nil {
			return "", err
		}
	}
	p := filepath.Join(d.tmp, fmt.Sprintf("%d.vmdelta", seq))
	if _, err := build.Export(ctx, d.t.store, base, d.target, delta.FileSink(p), build.ExportOptions{}); err != nil {
		return "", err
	}
	d.files[seq] = p
	return p, nil
}

func (d *deviceDeltas) close() {
	if d.tmp != "" {
		os.RemoveAll(d.tmp)
	}
	for _, f := range d.done {
		f()
	}
}

// refuseBoundDevices refuses a materialize without devices into a replica
// whose volumes an earlier request bound to entries of the device root:
// those entries are checked (a block device, not in use) only when a
// request names them, so a request that does not must not write through
// the links it left.
func (rs *ReplicationServer) refuseBoundDevices(sn volume.Snapshot, dir string) *api.Error {
	if rs.devRoot == "" {
		return nil
	}
	for _, v := range sn.Volumes {
		target, err := os.Readlink(replica.VolumePath(dir, v.VolumeID))
		if err == nil && filepath.Dir(filepath.Clean(target)) == rs.devRoot {
			return api.Errorf(api.CodeConflict, "volume %s of replica %s is bound to device %s; name its devices (replicate --device) to write it",
				v.Name, filepath.Base(dir), target)
		}
	}
	return nil
}
