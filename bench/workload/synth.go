package workload

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// SynthSpec describes a pair of synthetic manifests: a base volume of Size
// bytes in chunks of 16-112 KiB (64 KiB on average, like the default
// chunker) with a 1 MiB hole every 100 chunks, and a target in which Changed
// chunks, picked at random, got new content of the same length.
type SynthSpec struct {
	Seed    uint64
	Size    int64
	Changed int64
}

// SynthResult names the two manifests written.
type SynthResult struct {
	Base, Target volume.ManifestInfo
	Changed      int64 // chunks changed in the target
}

// Synth writes the base and target manifests of spec through
// volume.NewManifestWriter into w, one entry at a time, so memory is that
// of the writers and of w. No chunk data exists: IDs are random.
func Synth(ctx context.Context, w blob.Writer, spec SynthSpec) (SynthResult, error) {
	rng := rand.New(rand.NewPCG(spec.Seed, 0x5e7))
	chunks := spec.Size / (64 * kib)
	p := float64(spec.Changed) / float64(max(chunks, 1))
	base, target := volume.NewManifestWriter(w), volume.NewManifestWriter(w)
	var res SynthResult
	for off, i := int64(0), 0; off < spec.Size; i++ {
		var e volume.Entry
		if i%100 == 99 {
			e = volume.Entry{Hole: true, Length: min(mib, spec.Size-off)}
		} else {
			e = volume.Entry{ID: randomID(rng), Length: min(16*kib+4*kib*rng.Int64N(25), spec.Size-off)}
		}
		if err := base.Add(ctx, e); err != nil {
			return res, fmt.Errorf("synthetic base manifest at %d: %w", off, err)
		}
		if !e.Hole && rng.Float64() < p {
			e.ID = randomID(rng)
			res.Changed++
		}
		if err := target.Add(ctx, e); err != nil {
			return res, fmt.Errorf("synthetic target manifest at %d: %w", off, err)
		}
		off += e.Length
	}
	var err error
	if res.Base, err = base.Finish(ctx); err != nil {
		return res, fmt.Errorf("finish synthetic base manifest: %w", err)
	}
	if res.Target, err = target.Finish(ctx); err != nil {
		return res, fmt.Errorf("finish synthetic target manifest: %w", err)
	}
	return res, nil
}

func randomID(rng *rand.Rand) blob.ID {
	var id blob.ID
	for i := 0; i < 32; i += 8 {
		v := rng.Uint64()
		for k := range 8 {
			id[i+k] = byte(v >> (8 * k))
		}
	}
	return id
}
