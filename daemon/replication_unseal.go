package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/seal"
	"github.com/vmrep/vmrep/engine/volume"
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
	data, err := u.st.Get(ctx, id, nil)
	if err != nil || !seal.IsSourceSealed(data) {
		return append(buf[:0], data...), err
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
	return unsealReader{st: st, keys: keys}, nil
}

// checkUnsealedVolume reads back one volume written from a sealed
// snapshot against the opened chunks (the manifest names sealed chunks,
// so the device's bytes cannot be hashed against it).
func checkUnsealedVolume(ctx context.Context, rd blob.Reader, dir string, v volume.VolumeSnapshot) error {
	f, err := os.Open(replica.VolumePath(dir, v.VolumeID))
	if err != nil {
		return fmt.Errorf("check volume %s: %w", v.VolumeID, err)
	}
	defer f.Close()
	m, err := volume.LoadManifest(ctx, rd, v.Manifest)
	if err != nil {
		return fmt.Errorf("check volume %s: %w", v.VolumeID, err)
	}
	var p volume.Page
	var pageBuf, want, got []byte
	for i := range m.Pages {
		if pageBuf, err = m.LoadPageInto(ctx, rd, i, &p, pageBuf); err != nil {
			return fmt.Errorf("check volume %s: %w", v.VolumeID, err)
		}
		for j, e := range p.Entries {
			if e.Hole {
				continue // a hole was zeroed or left sparse by the write
			}
			if want, err = rd.Get(ctx, e.ID, want); err != nil {
				return fmt.Errorf("check volume %s: %w", v.VolumeID, err)
			}
			got = append(got[:0], make([]byte, e.Length)...)
			if _, err := f.ReadAt(got, p.Offsets[j]); err != nil && err != io.EOF {
				return fmt.Errorf("check volume %s: %w", v.VolumeID, err)
			}
			if !bytes.Equal(got, want) {
				return fmt.Errorf("check volume %s: %w: at offset %d (%d bytes)", v.VolumeID, replica.ErrVolumeDiffers, p.Offsets[j], e.Length)
			}
		}
	}
	return nil
}
