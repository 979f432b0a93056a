//go:build !linux

package chunkers

import "time"

func threadCPU() time.Duration { return 0 }
