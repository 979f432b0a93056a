package ingest

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

// SourceOpener opens the source a volume is read from, by its path.
type SourceOpener func(ctx context.Context, path string) (source.Reader, error)

// Ingester ingests into one store: it holds the chunker the store's config
// names and the way sources are opened, so its callers wire neither.
type Ingester struct {
	cut  *chunker.Cutter
	open SourceOpener
}

// New returns an Ingester that cuts with the chunker parameters p (those of
// the store's config) and opens sources with open; nil opens them with
// source.Open.
func New(p blob.ChunkerParams, open SourceOpener) (*Ingester, error) {
	cut, err := NewCutter(p)
	if err != nil {
		return nil, err
	}
	if open == nil {
		open = source.Open
	}
	return &Ingester{cut: cut, open: open}, nil
}

// WithChunker returns an Ingester like in that cuts with the chunker
// parameters p instead, as a replica recorded them.
func (in *Ingester) WithChunker(p blob.ChunkerParams) (*Ingester, error) {
	cut, err := NewCutter(p)
	if err != nil {
		return nil, err
	}
	return &Ingester{cut: cut, open: in.open}, nil
}

// Volume ingests src as the package's Volume does, with in's chunker in
// place of opts.Cutter.
func (in *Ingester) Volume(ctx context.Context, store blob.Writer, src source.Reader, opts Options) (Stats, error) {
	opts.Cutter = in.cut
	return Volume(ctx, store, src, opts)
}

// Snapshot ingests every volume of vg as the package's Snapshot does, with
// in's chunker in place of opts.Cutter, reading volume i of vg.Volumes from
// paths[i].
func (in *Ingester) Snapshot(ctx context.Context, store Store, cat Catalog, vg volume.VG, paths []string, opts SnapshotOptions) (volume.Snapshot, []Stats, error) {
	if len(paths) != len(vg.Volumes) {
		return volume.Snapshot{}, nil, fmt.Errorf("snapshot vg %q: %d source paths for %d volumes", vg.Name, len(paths), len(vg.Volumes))
	}
	at := make(map[string]string, len(paths))
	for i, v := range vg.Volumes {
		at[v.ID] = paths[i]
	}
	opts.Cutter = in.cut
	return Snapshot(ctx, store, cat, vg, func(ctx context.Context, v volume.Volume) (source.Reader, error) {
		if v.QMP != "" {
			return source.OpenQEMU(ctx, at[v.ID], v.QMP)
		}
		return in.open(ctx, at[v.ID])
	}, opts)
}
