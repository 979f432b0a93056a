package daemon

import (
	"context"
	"path/filepath"
	"time"

	"github.com/vmrep/vmrep/engine/capture"
)

// lvmStateFile, in the store directory, names the LVM snapshots a capture
// has made and not yet removed.
const lvmStateFile = "lvm-snapshots.json"

// lvmCleanupTimeout bounds the start-up removal of leftover snapshots, so a
// hung lvremove cannot keep the daemon from serving.
const lvmCleanupTimeout = 2 * time.Minute

// startLVM returns the one LVM every capture shares (one, so that its lock
// keeps the state file whole when two VGs capture at once), after removing
// the snapshots a daemon that died mid-capture left behind. A leftover
// snapshot fills with the origin's changes until LVM drops it, and it holds
// space in the volume group: better gone before the next capture.
func (s *Server) startLVM(ctx context.Context) *capture.LVM {
	l := capture.NewLVM(filepath.Join(s.storeDir, lvmStateFile))
	ctx, cancel := context.WithTimeout(ctx, lvmCleanupTimeout)
	defer cancel()
	removed, err := l.Cleanup(ctx)
	for _, lv := range removed {
		s.log.Warn("removed a leftover lvm snapshot", "lv", lv.String())
	}
	if err != nil {
		// Not fatal: the names stay in the state file for the next start.
		s.log.Error("removing leftover lvm snapshots", "err", err)
	}
	return l
}
