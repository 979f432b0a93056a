package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// stateFiles are the daemon's own files in the store directory, each
// replaced whole through a hidden temporary file and a rename.
var stateFiles = []string{replicasFile, mountsFile, lvmStateFile}

// removeStateTemps removes the temporary files of state files that a
// daemon killed between writing one and renaming it left in storeDir.
// Only the daemon holding the store's lock writes them, and New runs
// before any request, so every one found is a dead writer's. (Before,
// each SIGKILL during a replica's record left a .replicas.json.tmp-*
// behind for good.)
func removeStateTemps(storeDir string, log *slog.Logger) {
	entries, err := os.ReadDir(storeDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		for _, f := range stateFiles {
			if !strings.HasPrefix(e.Name(), "."+f+".tmp-") || !e.Type().IsRegular() {
				continue
			}
			p := filepath.Join(storeDir, e.Name())
			if err := os.Remove(p); err != nil {
				log.Warn("removing a state file's leftover", "path", p, "err", err)
			} else {
				log.Info("removed a state file's leftover from a killed daemon", "path", p)
			}
		}
	}
}
