package build

import (
	"context"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// findTargetDups finds the changed chunks of a volume that the target
// holds again at an earlier changed place, in another job, and that the
// base does not hold (those get base copies): a file written twice (apt's
// pkgcache.bin and srcpkgcache.bin), a block in the ext4 journal and in
// place. It maps each such chunk's target offset to the offset of its
// first copy, which becomes the source of a target copy record.
//
// Apply writes the frames holding target copies in a second round, so a
// source must not lie where a second-round frame writes: a job that takes
// a target copy is never a source afterwards, and a source chunk must lie
// inside its own job's hull (jobs' hulls do not overlap). Jobs come in
// offset order, so each job's status is final before a later job reads
// it. Duplicates within one job are left to zstd, which sees the whole
// frame.
// maxDupChunks bounds the changed chunks findTargetDups remembers as
// sources, and the target copies it makes: about 100 bytes each in the
// maps, so 256 Ki chunks (16 GiB of changed data at 64 KiB a chunk) cost
// about 25 MiB each. Past either bound, chunks go as data.
const maxDupChunks = 256 << 10

func findTargetDups(ctx context.Context, r blob.Reader, target *volume.Manifest, index *copyIndex, jobs []job) (map[int64]int64, error) {
	if target == nil || len(jobs) == 0 {
		return nil, nil
	}
	type first struct {
		off int64
		job int
	}
	seen := map[blob.ID]first{}
	second := make([]bool, len(jobs))
	dups := map[int64]int64{}
	v := newVolReader(r, target)
	last := int64(-1)
	for k := range jobs {
		j := &jobs[k]
		lo, hi := j.spans[0].off, j.spans[len(j.spans)-1].off+j.spans[len(j.spans)-1].len
		for _, s := range j.spans {
			err := v.entries(ctx, s.off, s.off+s.len, func(eoff, elen int64, id [32]byte) {
				if eoff <= last || elen < minCopy {
					return
				}
				last = eoff
				if index != nil {
					if _, ok := index.find(id); ok {
						return
					}
				}
				if f, ok := seen[id]; ok {
					if f.job != k && !second[f.job] && len(dups) < maxDupChunks {
						dups[eoff] = f.off
						second[k] = true
					}
					return
				}
				if eoff >= lo && eoff+elen <= hi && len(seen) < maxDupChunks {
					seen[id] = first{eoff, k}
				}
			})
			if err != nil {
				return nil, err
			}
		}
	}
	if len(dups) == 0 {
		return nil, nil
	}
	return dups, nil
}
