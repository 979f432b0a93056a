package fusefs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// DefaultKernelReadAhead is the kernel read-ahead of a mount, in KiB. The
// kernel starts a FUSE mount at 128 KiB, which cuts a sequential stream into
// 128 KiB requests; at 1 MiB (the largest request) each round trip carries
// eight times as much.
const DefaultKernelReadAhead = maxRead >> 10

// setKernelReadAhead sets the read-ahead of the file system mounted at dir
// to kb KiB. The knob is the backing device's read_ahead_kb in sysfs, found
// through the device number of the mount: writing it needs root, and the
// value negotiated at FUSE INIT (MaxReadAhead) does not bound it. The device
// comes from mountinfo rather than stat, which would leave the root's
// attributes cached and hide a dead server from CleanStale's stat.
func setKernelReadAhead(dir string, kb int) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("set read-ahead of %s: %w", dir, err)
	}
	// Resolve links in the parent only: looking at dir itself would ask
	// the file system for its attributes.
	if parent, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(parent, filepath.Base(abs))
	}
	dev, _, found, err := mountAt(abs)
	if err != nil {
		return fmt.Errorf("set read-ahead of %s: %w", dir, err)
	}
	if !found {
		return fmt.Errorf("set read-ahead of %s: not a mount point", dir)
	}
	knob := filepath.Join("/sys/class/bdi", dev, "read_ahead_kb")
	if err := os.WriteFile(knob, []byte(strconv.Itoa(kb)), 0); err != nil {
		return fmt.Errorf("set read-ahead of %s: %w", dir, err)
	}
	return nil
}
