package fusefs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CleanStale makes dir usable as a mount point again after the process that
// served a mount there died. It detaches dir when stat on it fails with
// ENOTCONN (a FUSE mount whose server is gone) or when dir is still a vmrep
// FUSE mount; otherwise it does nothing. Call it before mounting, while no
// live vmrep server of this process uses dir.
func CleanStale(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("clean stale mount %s: %w", dir, err)
	}
	var st unix.Stat_t
	err = unix.Stat(abs, &st)
	switch {
	case errors.Is(err, unix.ENOTCONN):
		return detach(abs)
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return fmt.Errorf("clean stale mount %s: %w", dir, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	found, err := isVmrepMount(abs)
	if err != nil {
		return fmt.Errorf("clean stale mount %s: %w", dir, err)
	}
	if found {
		return detach(abs)
	}
	return nil
}

func detach(dir string) error {
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach stale mount %s: %w", dir, err)
	}
	return nil
}

// isVmrepMount reports whether dir is the mount point of a vmrep FUSE
// mount in this process's mount namespace.
func isVmrepMount(dir string) (bool, error) {
	_, fstype, found, err := mountAt(dir)
	return found && fstype == "fuse.vmrep", err
}

// mountAt finds the topmost mount at mount point dir in this process's
// mountinfo and returns its device number ("major:minor") and file system
// type. Reading mountinfo asks the file system nothing, so it works on a
// mount whose server is dead and leaves no attributes in the kernel's cache.
func mountAt(dir string) (dev, fstype string, found bool, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", "", false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// Fields: id parent major:minor root mountpoint options... - fstype source superopts
		line := sc.Text()
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(tail) < 1 {
			continue
		}
		if unescapeMountinfo(fields[4]) == dir {
			dev, fstype, found = fields[2], tail[0], true
		}
	}
	return dev, fstype, found, sc.Err()
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) the kernel
// writes in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
