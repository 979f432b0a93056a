package replica

import (
	"errors"
	"fmt"

	"github.com/vmrep/vmrep/internal/vfs"
	"golang.org/x/sys/unix"
)

// reserve allocates, before the journal is written, the blocks that the
// data and copy records of each regular volume file will fill. Writing
// into a hole needs free blocks; without this a full filesystem would fail
// the apply half-way, the replica between base and target. Allocating
// keeps every byte as it was (new blocks read as zeros, like the holes
// they replace, and the file size stays), so an apply refused here leaves
// the replica at its base. Block devices need nothing; a filesystem that
// cannot preallocate is left to fail, if it must, while writing.
func reserve(vols []*applyVol, p *plan) error {
	for vi, v := range vols {
		if v == nil || v.block {
			continue
		}
		of, ok := v.f.(interface{ Fd() uintptr })
		if !ok {
			continue // not an OS file (a test's MemFS): nothing to reserve on
		}
		fd := int(of.Fd())
		for _, s := range p.fills[vi] {
			err := unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, s.off, s.len)
			if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
				break
			}
			if err != nil {
				return fmt.Errorf("volume %q: reserve space for bytes %d..%d: %w", v.vh.Name, s.off, s.off+s.len, err)
			}
		}
	}
	return nil
}

// dropNewStages removes the copy stages this run wrote when it stops
// before its journal exists: nothing names them, and they take space.
// Stages an interrupted apply left (volumes jr covers) stay, and so does
// every stage the journal now on disk names: a journal write that failed
// late (its directory sync) may have put the new journal in place, and a
// journal must never name a stage that is gone. When the journal cannot be
// read, every stage stays.
func dropNewStages(fsys vfs.FS, dir string, vols []*applyVol, jr *journal) {
	now, err := readJournal(fsys, dir)
	if err != nil {
		return
	}
	for _, v := range vols {
		if v != nil && !jr.covers(v.vh.ID) && !now.covers(v.vh.ID) {
			fsys.Remove(stagePath(dir, v.vh.ID))
		}
	}
}
