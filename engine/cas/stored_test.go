package cas

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

// A blob's stored form moves between stores without compressing again,
// pending or committed, and a receiving store refuses a form that does not
// decode to bytes hashing to the ID.
func TestGetPutStored(t *testing.T) {
	ctx := context.Background()
	src, _ := newTestStore(t, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	comp := compressibleBlob(r, 64<<10)
	rnd := randomBlob(r, 8<<10)
	idComp, idRnd := mustPut(t, src, comp), mustPut(t, src, rnd)

	for _, flushed := range []bool{false, true} {
		if flushed {
			if err := src.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		st, err := src.GetStored(ctx, idComp, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.Codec != CodecZstd || st.Raw != uint32(len(comp)) || len(st.Data) >= len(comp)/2 || st.Type != blob.Chunk {
			t.Fatalf("flushed=%v: compressible blob stored as codec %d, %d of %d bytes", flushed, st.Codec, len(st.Data), st.Raw)
		}
		st2, err := src.GetStored(ctx, idRnd, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st2.Codec != CodecNone || !bytes.Equal(st2.Data, rnd) {
			t.Fatalf("flushed=%v: random blob: codec %d, %d bytes", flushed, st2.Codec, len(st2.Data))
		}
	}

	for _, compression := range []string{"zstd", "s2", "none"} {
		t.Run(compression, func(t *testing.T) {
			dir := t.TempDir()
			cfg := DefaultConfig()
			cfg.Compression = compression
			if err := Init(ctx, dir, cfg); err != nil {
				t.Fatal(err)
			}
			dst := openTestStore(t, dir)
			w := dst.NewWriter()
			defer w.Close()
			for _, id := range []blob.ID{idComp, idRnd} {
				st, err := src.GetStored(ctx, id, nil)
				if err != nil {
					t.Fatal(err)
				}
				if isNew, err := w.PutStored(ctx, id, st); err != nil || !isNew {
					t.Fatalf("PutStored: new=%v err=%v", isNew, err)
				}
				if isNew, err := w.PutStored(ctx, id, st); err != nil || isNew {
					t.Fatalf("PutStored again: new=%v err=%v", isNew, err)
				}
			}
			if err := w.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			mustGet(t, dst, idComp, comp)
			mustGet(t, dst, idRnd, rnd)
			loc, err := dst.Lookup(ctx, idComp)
			if err != nil {
				t.Fatal(err)
			}
			if want := compression != "none"; loc.Compressed != want {
				t.Fatalf("compressed=%v in a %s store", loc.Compressed, compression)
			}
		})
	}

	dst, _ := newTestStore(t, 1<<20)
	w := dst.NewWriter()
	defer w.Close()
	st, err := src.GetStored(ctx, idComp, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := []Stored{
		{Type: st.Type, Codec: st.Codec, Raw: st.Raw, Data: append(bytes.Clone(st.Data[:len(st.Data)-1]), st.Data[len(st.Data)-1]^1)},
		{Type: st.Type, Codec: st.Codec, Raw: st.Raw + 1, Data: st.Data},
		{Type: st.Type, Codec: CodecS2, Raw: st.Raw, Data: st.Data},
		{Type: st.Type, Codec: 7, Raw: st.Raw, Data: st.Data},
		{Type: st.Type, Codec: CodecNone, Raw: uint32(len(rnd)), Data: append(bytes.Clone(rnd[1:]), 0)},
		{Type: st.Type, Codec: CodecZstd, Raw: blob.MaxSize + 1, Data: st.Data},
	}
	for i, b := range bad {
		id := idComp
		if b.Codec == CodecNone {
			id = idRnd
		}
		if _, err := w.PutStored(ctx, id, b); !errors.Is(err, blob.ErrCorrupt) {
			t.Errorf("bad form %d: err %v, want ErrCorrupt", i, err)
		}
		if ok, _ := dst.Has(ctx, id); ok {
			t.Fatalf("bad form %d was stored", i)
		}
	}
}
