package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/internal/vfs"
)

// Verify says how much apply checks after writing.
type Verify int

const (
	VerifyNone    Verify = iota
	VerifyExtents        // re-hash every range the delta names
	VerifyFull           // hash every chunk of the target manifests (needs Blobs)
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	Volume string // apply only this volume (ID or name); empty: all
	Verify Verify
	// Blobs reads the target manifests for VerifyFull.
	Blobs blob.Reader
	// Chunker, when set, is recorded in the state (see State.Chunker).
	Chunker *blob.ChunkerParams
	// FS holds the replica's files (nil: the OS); tests crash it.
	FS vfs.FS
	// lockHeld says the caller (Receive) holds dir's lock already.
	lockHeld bool
}

// ErrNotBase is wrapped when the replica does not hold the delta's base.
var ErrNotBase = errors.New("replica is not at the delta's base")

// ErrDamaged is wrapped when a delta whose checksums hold does not produce
// the bytes its frame hashes name: the delta, not the replica, is wrong.
var ErrDamaged = errors.New("delta is damaged")

// applyVol is one volume being brought forward.
type applyVol struct {
	vh    delta.VolumeHeader
	f     vfs.File
	t     restore.Target
	block bool
}

// Apply brings the replica in dir from the delta's base to its target. It
// checks the state file, then hashes every range the delta names before
// writing anything: a range at the target is skipped (so running Apply
// again after a crash finishes the job), a range at the base is written,
// and any other range refuses the whole apply with the replica untouched.
// The state file is updated last.
func Apply(ctx context.Context, rd *delta.Reader, dir string, opts ApplyOptions) (delta.Summary, error) {
	h := &rd.Header
	fail := func(err error) (delta.Summary, error) {
		return delta.Summary{}, fmt.Errorf("apply delta %s..%s to %s: %w", h.Base.ID, h.Target.ID, dir, err)
	}
	fsys := vfs.Or(opts.FS)
	if opts.FS == nil && !opts.lockHeld {
		unlock, err := lockDir(dir)
		if err != nil {
			return fail(err)
		}
		defer unlock()
	}
	if err := removeStaleTemps(fsys, dir); err != nil {
		return delta.Summary{}, err
	}
	st, err := readState(fsys, dir)
	if err != nil {
		return delta.Summary{}, err
	}
	if !rd.Checked() {
		// An earlier apply's journal is matched by the delta's digest,
		// which only the checksum pass gives: check first then.
		if j, err := readJournal(fsys, dir); err != nil {
			return fail(err)
		} else if j != nil {
			if err := rd.Check(ctx); err != nil {
				return fail(err)
			}
		}
	}
	jr, err := checkJournal(fsys, dir, st, rd)
	if err != nil {
		return fail(err)
	}
	vols, current, err := selectVolumes(h, st, opts.Volume)
	if err != nil {
		return fail(err)
	}
	defer func() {
		for _, v := range vols {
			if v != nil && v.f != nil {
				v.f.Close()
			}
		}
	}()
	next := &journal{Delta: rd.Digest, Base: h.Base.ID, Target: h.Target.ID}
	if jr != nil {
		next.Volumes = jr.Volumes
		for id, h := range jr.Stages {
			next.setStage(id, h)
		}
	}
	selected := false
	for i, v := range vols {
		if v != nil {
			selected = true
			if err := v.open(fsys, dir); err != nil {
				return delta.Summary{}, fmt.Errorf("apply delta to %s volume %q: %w", dir, h.Volumes[i].Name, err)
			}
			if !slices.Contains(next.Volumes, v.vh.ID) {
				next.Volumes = append(next.Volumes, v.vh.ID)
			}
		}
	}
	if !selected {
		// Every selected volume is at the target: nothing to write, but a
		// verify asked for is still done.
		var sum delta.Summary
		if sum.Verified, err = verifyCurrent(ctx, rd, dir, current, opts); err != nil {
			return fail(fmt.Errorf("verify: %w", err))
		}
		return sum, nil
	}
	var sum delta.Summary
	p, err := prepassChecked(ctx, rd, vols, jr, &sum)
	if err != nil {
		return fail(err)
	}
	next.Delta = rd.Digest
	stages, err := stageCopies(ctx, fsys, dir, vols, p, jr, next)
	if err == nil {
		defer closeStages(stages)
		err = reserve(vols, p)
	}
	// The journal goes down before the first byte of a volume changes.
	if err == nil {
		err = writeJournal(fsys, dir, next)
	}
	if err != nil {
		dropNewStages(fsys, dir, vols, jr)
		return fail(err)
	}
	if err := writeFrames(ctx, rd, vols, p, stages); err != nil {
		return fail(err)
	}
	if err := verify(ctx, rd, vols, opts); err != nil {
		return fail(fmt.Errorf("verify: %w", err))
	}
	if sum.Verified, err = verifyCurrent(ctx, rd, dir, current, opts); err != nil {
		return fail(fmt.Errorf("verify: %w", err))
	}
	st.VGID, st.VGName = h.VGID, h.VGName
	if opts.Chunker != nil {
		st.Chunker = opts.Chunker
	}
	for _, v := range vols {
		if v != nil {
			sum.Volumes++
			if opts.Verify != VerifyNone {
				sum.Verified++
			}
			st.set(VolumeState{ID: v.vh.ID, Name: v.vh.Name, Role: v.vh.Role, Size: v.vh.TargetSize,
				Manifest: v.vh.TargetManifest, SnapshotID: h.Target.ID, Seq: h.Target.Seq})
		}
	}
	if err := writeState(fsys, dir, st); err != nil {
		return delta.Summary{}, err
	}
	// The journal may list volumes of an earlier, wider run that are still
	// unfinished; it stays until all are at the target. A crash before the
	// removal leaves a finished journal, which the next Apply removes.
	if next.finished(st) {
		if err := clearJournal(fsys, dir); err != nil {
			return sum, err
		}
	}
	removeStages(fsys, dir, vols)
	return sum, nil
}

// selectVolumes checks the state against the header and returns, per
// header volume, the volume to apply or nil (filtered out, or already at
// the target), and, likewise, the selected volumes already at the target.
func selectVolumes(h *delta.Header, st *State, only string) (vols, current []*applyVol, err error) {
	if st.VGID != "" && st.VGID != h.VGID {
		return nil, nil, fmt.Errorf("%w: replica holds volume group %s, delta is for %s", ErrNotBase, st.VGID, h.VGID)
	}
	vols = make([]*applyVol, len(h.Volumes))
	current = make([]*applyVol, len(h.Volumes))
	matched := false
	for i, vh := range h.Volumes {
		if only != "" && only != vh.ID && only != vh.Name {
			continue
		}
		matched = true
		vs := st.volume(vh.ID)
		if vs != nil && vs.SnapshotID == h.Target.ID && vs.Manifest == vh.TargetManifest {
			current[i] = &applyVol{vh: vh}
			continue
		}
		switch {
		case vh.Added && vs == nil:
		case vh.Added:
			return nil, nil, fmt.Errorf("%w: volume %q is at %s@%d (%s), delta adds it", ErrNotBase, vh.Name, st.VGName, vs.Seq, vs.SnapshotID)
		case vs == nil:
			return nil, nil, fmt.Errorf("%w: replica has no volume %q, delta needs it at %s", ErrNotBase, vh.Name, h.Base.ID)
		case vs.SnapshotID != h.Base.ID || vs.Manifest != vh.BaseManifest:
			return nil, nil, fmt.Errorf("%w: replica is at %s@%d (%s), delta needs %s", ErrNotBase, st.VGName, vs.Seq, vs.SnapshotID, h.Base.ID)
		}
		vols[i] = &applyVol{vh: vh}
	}
	if !matched {
		return nil, nil, fmt.Errorf("delta has no volume %q", only)
	}
	return vols, current, nil
}

// verifyCurrent checks the volumes already at the target, which apply does
// not write, as opts.Verify asks, and returns how many it checked.
func verifyCurrent(ctx context.Context, rd *delta.Reader, dir string, current []*applyVol, opts ApplyOptions) (int, error) {
	if opts.Verify == VerifyNone {
		return 0, nil
	}
	n := 0
	defer func() {
		for _, v := range current {
			if v != nil && v.f != nil {
				v.f.Close()
			}
		}
	}()
	for _, v := range current {
		if v == nil {
			continue
		}
		f, err := vfs.Or(opts.FS).Open(VolumePath(dir, v.vh.ID))
		if err != nil {
			return 0, fmt.Errorf("volume %q: %w", v.vh.Name, err)
		}
		v.f = f
		n++
	}
	if n == 0 {
		return 0, nil
	}
	return n, verify(ctx, rd, current, opts)
}

func (v *applyVol) open(fsys vfs.FS, dir string) error {
	flag := os.O_RDWR
	if v.vh.Added {
		flag |= os.O_CREATE
	}
	f, err := fsys.OpenFile(VolumePath(dir, v.vh.ID), flag, 0o644)
	if err != nil {
		return err
	}
	v.f = f
	if v.t, err = newTarget(f); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	v.block = !fi.Mode().IsRegular()
	if v.block {
		size, err := v.t.Size()
		if err != nil {
			return err
		}
		if size < v.vh.TargetSize {
			return fmt.Errorf("device %s holds %d bytes, volume needs %d", f.Name(), size, v.vh.TargetSize)
		}
	}
	return nil
}

// readRange reads [off, off+len) of the replica, zeros past its end.
func readRange(f io.ReaderAt, buf []byte, off int64) error {
	n, err := f.ReadAt(buf, off)
	if err == io.EOF {
		clear(buf[n:])
		return nil
	}
	return err
}
