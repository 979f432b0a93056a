package restore

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// tmpPrefix is how a regular-file restore into path names its temporary
// file: beside path, hidden, with the writing process's pid, so that the
// temporary file of a process that died (SIGKILL, power loss) can be told
// from one that another live process is still writing.
func tmpPrefix(path string, pid int) string {
	return "." + filepath.Base(path) + ".vmrep-" + strconv.Itoa(pid) + "-"
}

// removeStaleTemps removes the temporary files that restores into path by
// processes no longer alive left beside it. Without it, every restore
// killed mid-way left a hidden file as large as the volume behind, and
// reruns never took it away.
func removeStaleTemps(path string) {
	dir, base := filepath.Dir(path), "."+filepath.Base(path)+".vmrep-"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // the restore itself reports what is wrong with dir
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), base)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
