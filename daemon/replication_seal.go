package daemon

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/seal"
	"github.com/vmrep/vmrep/engine/volume"
)

// sealBatch and sealBatchBytes bound the blobs a sealed send holds,
// sealed, before it asks the server which it lacks and sends those.
var (
	sealBatch            = 4096
	sealBatchBytes int64 = 32 << 20 // a variable so a test can cut batches small
)

// sealer seals the chunks of one run. ids maps each plaintext chunk of the
// batch being built to its sealed ID and size, so a chunk named twice is
// sealed and sent once; the store's memo keeps that map across batches
// and runs (memoKey), so a later send seals only the chunks no earlier
// send under this key sealed.
type sealer struct {
	keys    *seal.SourceKeys
	st      *cas.Store
	ids     map[blob.ID]sendBlob
	raw     []byte
	val     []byte
	memo    [][2][]byte          // new memo entries, written at each batch
	nsealed int64                // chunks sealed by this run, memo hits aside
	pre     map[blob.ID]sendBlob // sealed ahead by prefetch, not yet taken
}

// sealAhead is how many manifest entries prefetch looks ahead: enough to
// keep every core sealing, few enough that their sealed bytes stay small.
const sealAhead = 64

// prefetch seals, in parallel, the chunks of es that neither the batch,
// the memo nor an earlier prefetch knows, for sealedID to take in order.
func (z *sealer) prefetch(ctx context.Context, es []volume.Entry) error {
	var todo []blob.ID
	for _, e := range es {
		if e.Hole || slices.Contains(todo, e.ID) {
			continue
		}
		if _, ok := z.ids[e.ID]; ok {
			continue
		}
		if _, ok := z.pre[e.ID]; ok {
			continue
		}
		v, ok, err := z.st.MemoGet(z.memoKey(e.ID), z.val)
		if err != nil {
			return err
		}
		z.val = v
		if !ok {
			todo = append(todo, e.ID)
		}
	}
	if len(todo) < 2 {
		return nil // sealedID seals a lone one itself
	}
	out := make([]sendBlob, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, x := range todo {
		g.Go(func() error {
			st, err := z.st.GetStored(gctx, x, nil)
			if err != nil {
				return fmt.Errorf("reading chunk %s to seal: %w", x, err)
			}
			sealed := z.keys.SealChunk(nil, seal.SourceChunk{ID: x, Codec: uint8(st.Codec), Raw: st.Raw, Data: st.Data})
			out[i] = sendBlob{id: blob.Sum(sealed), typ: blob.Chunk, size: int64(len(sealed)), plain: x, data: sealed}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, x := range todo {
		z.pre[x] = out[i]
	}
	return nil
}

// memoKey names chunk x's sealed ID under the sealer's key in the memo.
func (z *sealer) memoKey(x blob.ID) []byte {
	return append([]byte("seal/"+z.keys.Fingerprint()+"/"), x[:]...)
}

// sealed returns chunk x sealed, appended to dst[:0].
func (z *sealer) sealed(ctx context.Context, x blob.ID, dst []byte) ([]byte, error) {
	st, err := z.st.GetStored(ctx, x, z.raw[:0])
	if err != nil {
		return nil, fmt.Errorf("reading chunk %s to seal: %w", x, err)
	}
	z.raw = st.Data
	return z.keys.SealChunk(dst, seal.SourceChunk{ID: x, Codec: uint8(st.Codec), Raw: st.Raw, Data: st.Data}), nil
}

// sealedID is chunk x as the server will know it, and whether this run
// has not met it before. One sealed now carries its sealed bytes; one the
// memo knows carries none, and is sealed again only if the server lacks
// it (sendSealed's read checks the bytes against the ID).
func (z *sealer) sealedID(ctx context.Context, x blob.ID) (sendBlob, bool, error) {
	if b, ok := z.ids[x]; ok {
		return b, false, nil
	}
	key := z.memoKey(x)
	v, ok, err := z.st.MemoGet(key, z.val)
	if err != nil {
		return sendBlob{}, false, err
	}
	z.val = v
	if ok && len(v) == 36 {
		b := sendBlob{id: blob.ID(v[:32]), typ: blob.Chunk, size: int64(binary.LittleEndian.Uint32(v[32:])), plain: x}
		z.ids[x] = b
		return b, true, nil
	}
	b, ok := z.pre[x]
	if ok {
		delete(z.pre, x)
	} else {
		sealed, err := z.sealed(ctx, x, nil)
		if err != nil {
			return sendBlob{}, false, err
		}
		b = sendBlob{id: blob.Sum(sealed), typ: blob.Chunk, size: int64(len(sealed)), plain: x, data: sealed}
	}
	z.nsealed++
	data := b.data
	b.data = nil
	z.ids[x] = b
	z.memo = append(z.memo, [2][]byte{key, binary.LittleEndian.AppendUint32(append([]byte(nil), b.id[:]...), uint32(b.size))})
	b.data = data
	return b, true, nil
}

// pageSink collects the pages a ManifestWriter writes, to be sent with
// the chunks: a sealed manifest lies in no store on this side.
type pageSink struct{ out *[]sendBlob }

func (p pageSink) Put(_ context.Context, t blob.Type, id blob.ID, data []byte) (bool, error) {
	*p.out = append(*p.out, sendBlob{id: id, typ: t, size: int64(len(data)), data: append([]byte(nil), data...)})
	return true, nil
}

func (pageSink) Flush(context.Context) error { return nil }

// sendSealed sends sn with every chunk sealed for a tenancy the server
// cannot read, and returns the snapshot record to commit there: the same
// snapshot, each volume's manifest rewritten to name the sealed chunks at
// the same offsets and lengths, and marked with the key's fingerprint.
// Sealing is deterministic, so a chunk the server already holds sealed
// under this key is not sent again.
func (s *Server) sendSealed(ctx context.Context, j *job, rm *client.Client, tx *transfer, sn volume.Snapshot, keys *seal.SourceKeys, res *api.ReplicateResult) (volume.Snapshot, error) {
	if fp := sn.Sealed(); fp != "" {
		return sn, api.Errorf(api.CodeInvalid, "%s is already sealed by its source (%s); replicate it on without --encrypt-for", sn.Name(), fp)
	}
	z := &sealer{keys: keys, st: s.store, ids: make(map[blob.ID]sendBlob), pre: make(map[blob.ID]sendBlob)}
	send := &sealer{keys: keys, st: s.store}
	// Pending blobs carry their sealed bytes (or page bytes) until sent;
	// a chunk the memo knew is sealed here, and must seal to its ID.
	tx.read = func(ctx context.Context, b sendBlob, buf []byte) (cas.Stored, error) {
		data := b.data
		if data == nil && b.typ == blob.Chunk {
			var err error
			if data, err = send.sealed(ctx, b.plain, buf); err != nil {
				return cas.Stored{}, err
			}
			if blob.Sum(data) != b.id {
				// The stored form changed since the memo was written
				// (the store recompressed it): others may have too, so
				// forget every entry of the key, and the next run seals
				// afresh.
				_ = s.store.MemoDeletePrefix([]byte("seal/" + keys.Fingerprint() + "/"))
				return cas.Stored{}, fmt.Errorf("chunk %s no longer seals to %s, the sealed ID an earlier send recorded (the store's copy changed form): the recorded sealed IDs of this key are dropped; run the replication again", b.plain, b.id)
			}
		}
		return cas.Stored{Type: b.typ, Codec: cas.CodecNone, Raw: uint32(len(data)), Data: data}, nil
	}
	var pend []sendBlob
	var pendBytes int64
	flush := func() error {
		if len(pend) == 0 {
			return nil
		}
		res.Blobs += int64(len(pend))
		if err := s.store.MemoPut(z.memo); err != nil {
			s.log.Warn("replicate: keeping sealed chunk IDs for the next send", "err", err)
		}
		z.memo = z.memo[:0]
		err := s.sendBatch(ctx, j, rm, tx, pend, res)
		// The memo holds what ids held: a chunk met again later is found
		// there, so memory stays bounded by one batch.
		clear(z.ids)
		clear(pend)
		pend, pendBytes = pend[:0], 0
		return err
	}
	out := sn
	out.Volumes = append([]volume.VolumeSnapshot(nil), sn.Volumes...)
	var p volume.Page
	var pageBuf []byte
	for vi, v := range sn.Volumes {
		fail := func(err error) (volume.Snapshot, error) {
			return sn, fmt.Errorf("replicate %s volume %q sealed: %w", sn.Name(), v.Name, err)
		}
		m, err := volume.LoadManifest(ctx, s.store, v.Manifest)
		if err != nil {
			return fail(err)
		}
		mw := volume.NewManifestWriter(pageSink{out: &pend})
		for i := range m.Pages {
			if pageBuf, err = m.LoadPageInto(ctx, s.store, i, &p, pageBuf); err != nil {
				return fail(err)
			}
			for k, e := range p.Entries {
				if k%sealAhead == 0 {
					if err := z.prefetch(ctx, p.Entries[k:min(k+sealAhead, len(p.Entries))]); err != nil {
						return fail(err)
					}
				}
				if e.Hole {
					err = mw.Add(ctx, e)
				} else {
					b, isNew, serr := z.sealedID(ctx, e.ID)
					if serr != nil {
						return fail(serr)
					}
					if isNew {
						pend, pendBytes = append(pend, b), pendBytes+int64(len(b.data))
					}
					err = mw.Add(ctx, volume.Entry{ID: b.id, Length: e.Length})
				}
				if err != nil {
					return fail(err)
				}
				if len(pend) >= sealBatch || pendBytes >= sealBatchBytes {
					if err := flush(); err != nil {
						return sn, err
					}
				}
			}
			j.progress("seal", int64(vi), int64(len(sn.Volumes)), fmt.Sprintf("volume %s: %d chunks sealed by this run", v.Name, z.nsealed))
		}
		info, err := mw.Finish(ctx)
		if err != nil {
			return fail(err)
		}
		if info.Size != v.Size || info.Chunks != v.Chunks || info.DataBytes != v.DataBytes {
			return fail(fmt.Errorf("sealed manifest covers %d bytes in %d chunks, the snapshot %d in %d", info.Size, info.Chunks, v.Size, v.Chunks))
		}
		out.Volumes[vi].Manifest, out.Volumes[vi].Sealed = info.ID, keys.Fingerprint()
		out.Volumes[vi].SealedTag = keys.VolumeTag(sn.ID, v.VolumeID, info.ID, info.Size)
		out.Volumes[vi].Holes = info.Holes
	}
	if err := flush(); err != nil {
		return sn, err
	}
	res.SealedChunks = z.nsealed
	return out, nil
}
