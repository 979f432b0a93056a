package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/vmrep/vmrep/engine/blob"
)

// What a replica volume was verified against.
const (
	// AgainstSnapshot: chunk by chunk, against the manifest of the snapshot
	// the store still holds. A mismatch has an offset.
	AgainstSnapshot = "snapshot"
	// AgainstState: the volume's bytes chunked again into a manifest ID and
	// compared with the one state.json records. A mismatch has no offset.
	AgainstState = "state"
)

// VolumeCheck is what VerifyReplica found for one volume of a replica.
type VolumeCheck struct {
	VolumeState
	File    string
	Against string // AgainstSnapshot or AgainstState
	OK      bool
	// Mismatch, when the offset is known: the first differing range and
	// how many ranges differ. MismatchOffset is -1 when it is not known.
	MismatchOffset, MismatchLength, Mismatches int64
	Problem                                    string // what differs, in words; empty when OK
}

// Rechunker computes the manifest ID of a volume's size bytes read from r,
// exactly as an ingest of those bytes with the chunker parameters p would
// (nil: the store's own), without storing anything.
type Rechunker func(ctx context.Context, r io.ReaderAt, size int64, p *blob.ChunkerParams, done func(int64)) (blob.ID, error)

// VerifyReplicaOptions say what a replica is verified against.
type VerifyReplicaOptions struct {
	// Snapshot says whether the store holds the snapshot a volume names, and
	// the manifest the snapshot has for it; Blobs reads that manifest.
	Snapshot func(vgID string, v VolumeState) (blob.ID, bool)
	Blobs    blob.Reader
	// Rechunk verifies the volumes whose snapshot the store no longer has.
	Rechunk Rechunker
	// Progress is told the bytes verified over all volumes.
	Progress func(done, total int64)
}

// VerifyReplica reads every volume file of the replica in dir and compares
// it with what state.json says it holds: against the snapshot's manifest,
// chunk by chunk, when the store still has the snapshot; otherwise by
// chunking it again into a manifest ID, which is a function of the bytes
// and the chunker parameters alone, and comparing that with the manifest
// ID state.json records. It changes nothing. An error is returned only
// when the check could not be made; differences are in the checks.
func VerifyReplica(ctx context.Context, dir string, opts VerifyReplicaOptions) (*State, []VolumeCheck, error) {
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	st, err := ReadState(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	if st.VGID == "" {
		return nil, nil, fmt.Errorf("verify replica %s: no %s there", dir, StateName)
	}
	var total, done int64
	for _, v := range st.Volumes {
		total += v.Size
	}
	progress := func(n int64) {
		done += n
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	checks := make([]VolumeCheck, len(st.Volumes))
	for i, v := range st.Volumes {
		c, err := verifyVolume(ctx, dir, st, v, opts, progress)
		if err != nil {
			return nil, nil, fmt.Errorf("verify replica %s volume %q: %w", dir, v.Name, err)
		}
		checks[i] = c
	}
	return st, checks, nil
}

func verifyVolume(ctx context.Context, dir string, st *State, v VolumeState, opts VerifyReplicaOptions, progress func(int64)) (VolumeCheck, error) {
	c := VolumeCheck{VolumeState: v, File: VolumePath(dir, v.ID), Against: AgainstState, MismatchOffset: -1}
	manifest, known := blob.ID{}, false
	if opts.Snapshot != nil {
		manifest, known = opts.Snapshot(st.VGID, v)
	}
	if known {
		c.Against = AgainstSnapshot
	} else if opts.Rechunk == nil {
		return c, errors.New("the store no longer has its snapshot and no rechunker was given")
	}
	f, err := os.Open(c.File)
	if errors.Is(err, os.ErrNotExist) {
		c.Problem = "the volume file is missing"
		return c, nil
	} else if err != nil {
		return c, err
	}
	defer f.Close()
	if p, err := checkSize(f, v.Size); err != nil || p != "" {
		c.Problem, c.MismatchOffset = p, -1
		return c, err
	}
	if known && manifest != v.Manifest {
		c.Problem = fmt.Sprintf("%s names manifest %s, the snapshot has %s", StateName, v.Manifest.Short(), manifest.Short())
		return c, nil
	}
	if known {
		d, err := compareManifest(ctx, opts.Blobs, manifest, f, progress)
		if err != nil {
			return c, err
		}
		if d.Count > 0 {
			c.MismatchOffset, c.MismatchLength, c.Mismatches = d.Off, d.Len, d.Count
			c.Problem = fmt.Sprintf("%d differing ranges, the first at offset %d (%d bytes)", d.Count, d.Off, d.Len)
			return c, nil
		}
		c.OK = true
		return c, nil
	}
	got, err := opts.Rechunk(ctx, f, v.Size, st.Chunker, progress)
	if err != nil {
		return c, err
	}
	if got != v.Manifest {
		c.Mismatches = 1
		c.Problem = fmt.Sprintf("its bytes chunk to manifest %s, %s records %s (the offset is not known without the snapshot)",
			got.Short(), StateName, v.Manifest.Short())
		return c, nil
	}
	c.OK = true
	return c, nil
}

// checkSize compares a volume file's size with the volume's: a file must
// match exactly, a block device may be larger. It returns the difference
// in words, or "".
// CheckSize says what is wrong with the size of a volume's file or device
// f for a volume of size bytes ("" when nothing is): a file must be that
// size, a device at least.
func CheckSize(f *os.File, size int64) (string, error) { return checkSize(f, size) }

func checkSize(f *os.File, size int64) (string, error) {
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	have := fi.Size()
	if !fi.Mode().IsRegular() {
		if have, err = f.Seek(0, io.SeekEnd); err != nil {
			return "", err
		}
		if have < size {
			return fmt.Sprintf("the device holds %d bytes, the volume %d", have, size), nil
		}
		return "", nil
	}
	if have != size {
		return fmt.Sprintf("the file holds %d bytes, the volume %d", have, size), nil
	}
	return "", nil
}
