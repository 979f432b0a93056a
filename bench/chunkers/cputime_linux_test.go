package chunkers

import (
	"syscall"
	"time"
)

// rusageThread is RUSAGE_THREAD, which the syscall package does not name.
const rusageThread = 1

// threadCPU returns the CPU time of the calling OS thread, so throughput can
// be reported per CPU second on a machine shared with other work, where
// wall-clock figures swing with the load.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
