package daemon

import (
	"log/slog"

	"github.com/vmrep/vmrep/internal/durable"
	"github.com/vmrep/vmrep/internal/vfs"
)

// stateFiles are the daemon's own files in the store directory, each
// replaced whole through a hidden temporary file and a rename.
var stateFiles = []string{replicasFile, pinsFile, mountsFile, lvmStateFile, schedulesFile, jobsFile, lagHistoryFile, cutoversFile}

// removeStateTemps removes the temporary files of state files that a
// daemon killed between writing one and renaming it left in storeDir.
// Only the daemon holding the store's lock writes them, and New runs
// before any request, so every one found is a dead writer's. (Before,
// each SIGKILL during a replica's record left a .replicas.json.tmp-*
// behind for good.)
func removeStateTemps(storeDir string, log *slog.Logger) {
	removed, err := durable.RemoveWriteTemps(vfs.Default, storeDir, stateFiles...)
	for _, p := range removed {
		log.Info("removed a state file's leftover from a killed daemon", "path", p)
	}
	if err != nil {
		log.Warn("removing a state file's leftover", "err", err)
	}
}
