package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/seal"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/zero"
)

// unsealReader reads a snapshot its source sealed, for one materialize
// job that was given the key: a sealed chunk is opened and decoded, and
// its bytes checked against the chunk's own ID inside the seal; pages,
// which are not sealed, pass through. The key lives in this value only.
type unsealReader struct {
	st   *cas.Store
	keys *seal.SourceKeys
}

func (u unsealReader) Has(ctx context.Context, id blob.ID) (bool, error) { return u.st.Has(ctx, id) }

func (u unsealReader) Get(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) {
	loc, err := u.st.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if loc.Type == blob.Page {
		return u.st.Get(ctx, id, buf)
	}
	data, err := u.st.Get(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	if !seal.IsSourceSealed(data) {
		return nil, &blob.Error{ID: id, Type: blob.Chunk, Err: fmt.Errorf("%w: a sealed snapshot names a chunk that is not sealed", blob.ErrCorrupt)}
	}
	c, err := u.keys.OpenChunk(data, nil)
	if err != nil {
		return nil, &blob.Error{ID: id, Type: blob.Chunk, Err: fmt.Errorf("%w: %v", blob.ErrCorrupt, err)}
	}
	raw, err := u.st.DecodeStored(c.ID, cas.Stored{Type: blob.Chunk, Codec: cas.Codec(c.Codec), Raw: c.Raw, Data: c.Data}, buf)
	if err != nil {
		return nil, err
	}
	if c.Codec == uint8(cas.CodecNone) {
		raw = append(buf[:0], raw...)
	}
	return raw, nil
}

// newestSealed is the fingerprint of the newest of snaps that its source
// sealed, "" when none was: once a VG is held sealed, every later send
// must be sealed the same way.
func newestSealed(snaps []volume.Snapshot) string {
	for i := len(snaps) - 1; i >= 0; i-- {
		if fp := snaps[i].Sealed(); fp != "" {
			return fp
		}
	}
	return ""
}

// checkSealedSend refuses, on the server and before any chunk arrives, a
// send that would break how the VG is held: a plain send (or one from a
// source that predates sealing) of a VG held sealed, or one sealed under
// another key or tenancy. A first sealed send after plain ones is let
// through: it protects from then on.
func checkSealedSend(name, held, sending string) *api.Error {
	switch {
	case held == "" || held == sending:
		return nil
	case sending == "":
		return api.Errorf(api.CodeConflict, "volume group %s is held here sealed by its source (%s); send it sealed too (replicate --encrypt-for, with the same tenancy and key), or its chunks would arrive in clear", name, held)
	}
	return api.Errorf(api.CodeConflict, "volume group %s is held here sealed under another key or for another tenancy (%s; this send %s); use the key it was sealed with", name, held, sending)
}

// checkSealedRecord refuses a snapshot record whose volumes are sealed
// unevenly (some plain, or under different keys, or without their tag),
// or that is not sealed as the VG's newest sealed snapshot was.
func checkSealedRecord(name string, sn volume.Snapshot, held string) *api.Error {
	fp := sn.Sealed()
	for _, v := range sn.Volumes {
		if v.Sealed != fp || (fp != "" && v.SealedTag == "") {
			return api.Errorf(api.CodeInvalid, "replicated snapshot %s: volume %q is not sealed as the others are", sn.Name(), v.Name)
		}
	}
	return checkSealedSend(name, held, fp)
}

// hydrationReader is what a materialize of sn reads through: the store,
// or, for a snapshot its source sealed, an unsealReader with the key the
// request presented. A sealed snapshot without its key, or with another
// key, is refused before anything is written.
func hydrationReader(st *cas.Store, sn volume.Snapshot, req api.ReplReplicaRequest) (blob.Reader, *api.Error) {
	fp := sn.Sealed()
	if fp == "" {
		if len(req.SourceKey) > 0 {
			return nil, api.Errorf(api.CodeInvalid, "%s was not sealed by its source; materialize it without a source key", sn.Name())
		}
		return st, nil
	}
	if len(req.SourceKey) == 0 {
		return nil, api.Errorf(api.CodeInvalid, "%s was sealed by its source (replicate --encrypt-for) and this server cannot read it: materialize it with its key (vmrep replicate --encrypt-for TENANCY --key-file F --materialize DIR)", sn.Name())
	}
	keys, err := seal.NewSourceKeys(req.SourceKey, req.SealedFor)
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "source key: %v", err)
	}
	if keys.Fingerprint() != fp {
		return nil, api.Errorf(api.CodeInvalid, "the source key given does not open %s: it was sealed under another key or for another tenancy", sn.Name())
	}
	for _, v := range sn.Volumes {
		if v.Sealed != fp || !keys.CheckVolumeTag(v.SealedTag, sn.ID, v.VolumeID, v.Manifest, v.Size) {
			return nil, api.Errorf(api.CodeCorrupt, "%s volume %q: its sealed manifest does not carry its source's tag: it was altered here or in the bucket, and is not written out", sn.Name(), v.Name)
		}
	}
	return unsealReader{st: st, keys: keys}, nil
}

// checkUnsealedVolume reads back one volume written from a sealed
// snapshot against the opened chunks (the manifest names sealed chunks,
// so the device's bytes cannot be hashed against it): its size, every
// chunk's bytes, and zeros in every hole.
func checkUnsealedVolume(ctx context.Context, rd blob.Reader, dir string, v volume.VolumeSnapshot) error {
	fail := func(err error) error { return fmt.Errorf("check volume %s: %w", v.VolumeID, err) }
	differs := func(format string, a ...any) error {
		return fail(fmt.Errorf("%w: "+format, append([]any{replica.ErrVolumeDiffers}, a...)...))
	}
	f, err := os.Open(replica.VolumePath(dir, v.VolumeID))
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	if p, err := replica.CheckSize(f, v.Size); err != nil {
		return fail(err)
	} else if p != "" {
		return differs("%s", p)
	}
	m, err := volume.LoadManifest(ctx, rd, v.Manifest)
	if err != nil {
		return fail(err)
	}
	var p volume.Page
	var pageBuf, want, got []byte
	for i := range m.Pages {
		if pageBuf, err = m.LoadPageInto(ctx, rd, i, &p, pageBuf); err != nil {
			return fail(err)
		}
		for j, e := range p.Entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !e.Hole {
				if want, err = rd.Get(ctx, e.ID, want); err != nil {
					return fail(err)
				}
			}
			for off := int64(0); off < e.Length; {
				n := min(e.Length-off, 4<<20)
				got = slices.Grow(got[:0], int(n))[:n]
				at := p.Offsets[j] + off
				if _, err := f.ReadAt(got, at); err != nil {
					return fail(err) // io.EOF too: the size was checked
				}
				if e.Hole && !zero.Is(got) || !e.Hole && !bytes.Equal(got, want[off:off+n]) {
					return differs("at offset %d (%d bytes)", at, n)
				}
				off += n
			}
		}
	}
	return nil
}
