package main

import (
	"context"
	"math/rand/v2"
	"os"
	"time"

	"github.com/vmrep/vmrep/bench/workload"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/diff"
	"github.com/vmrep/vmrep/engine/volume"
)

type blobStore interface {
	blob.Reader
	blob.Writer
}

// doSynth writes a synthetic base and target manifest of -size bytes (no
// data), then times diff between them and random page lookups in the
// target, the way a FUSE read finds its chunk: FindPage, LoadPage, Find.
func doSynth(ctx context.Context, a args) (Result, error) {
	var bs blobStore
	var pageBytes func() int64
	if *a.file != "" {
		fb, err := workload.NewFileBlobs(*a.file)
		if err != nil {
			return Result{}, err
		}
		defer os.Remove(*a.file)
		defer fb.Close()
		bs, pageBytes = fb, func() int64 { return fb.Bytes }
	} else {
		mb := workload.NewMemBlobs()
		bs, pageBytes = mb, func() int64 { return mb.Bytes }
	}
	changed := *a.changed
	if changed == 0 {
		changed = *a.size / (64 << 10) / 1000
	}
	t := time.Now()
	res, err := workload.Synth(ctx, bs, workload.SynthSpec{Seed: *a.seed, Size: *a.size, Changed: changed})
	if err != nil {
		return Result{}, err
	}
	r := Result{GenS: since(t), Bytes: *a.size, Pages: res.Base.Pages, PageBytes: pageBytes(), Chunks: res.Changed}

	t = time.Now()
	mb, err := volume.LoadManifest(ctx, bs, res.Base.ID)
	if err != nil {
		return r, err
	}
	mt, err := volume.LoadManifest(ctx, bs, res.Target.ID)
	if err != nil {
		return r, err
	}
	ext, st, err := diff.Volumes(ctx, bs, mb, mt, diff.Options{})
	if err != nil {
		return r, err
	}
	r.Seconds = since(t)
	r.Changed, r.Extents, r.PagesRead, r.PagesSkipped = st.ChangedBytes, int64(len(ext)), st.PagesRead, st.PagesSkipped

	rng := rand.New(rand.NewPCG(*a.seed, 0x100c))
	var buf []byte
	p := new(volume.Page)
	t = time.Now()
	for range *a.lookups {
		off := rng.Int64N(mt.Size)
		i := mt.FindPage(off)
		if buf, err = mt.LoadPageInto(ctx, bs, i, p, buf); err != nil {
			return r, err
		}
		if j := p.Find(off); j < 0 || p.Offsets[j] > off {
			return r, errLookup
		}
	}
	r.Lookups, r.LookupS = *a.lookups, since(t)
	return r, nil
}

var errLookup = lookupError("page lookup found no entry for an offset inside the volume")

type lookupError string

func (e lookupError) Error() string { return string(e) }
