package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// ListenConfig says who may reach the daemon's Unix socket.
type ListenConfig struct {
	// Mode is the socket file's mode (0660 by default in vmrepd).
	Mode os.FileMode
	// Group, when not negative, owns the socket and the directories Listen
	// creates, which are then 0750 instead of 0700.
	Group int
}

// Listen creates the socket's directory when it does not exist (0700, or
// 0750 owned by cfg.Group), removes a stale socket file left by a killed
// daemon, listens, and gives the socket its mode and group. A directory
// that already exists is never changed: it may be /tmp or /run. One that
// anyone may write to without the sticky bit is refused, since anyone could
// then swap the socket for their own. Call Listen only while holding the
// store lock, so the stale file can never be a live daemon's (one socket
// per store is the convention).
func Listen(path string, cfg ListenConfig) (*net.UnixListener, error) {
	if err := socketDir(filepath.Dir(path), cfg.Group); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listen on %s: it exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen on %s: another daemon answers on this socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen on %s: removing stale socket: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, cfg.Mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen on %s: setting mode: %w", path, err)
	}
	if cfg.Group >= 0 {
		if err := os.Chown(path, -1, cfg.Group); err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen on %s: giving the socket to group %d: %w", path, cfg.Group, err)
		}
	}
	return ln, nil
}

// CheckSocketPath refuses a socket path Listen would refuse for its
// directory, creating nothing: vmrepd calls it before it creates a store,
// so that a refusal leaves nothing behind.
func CheckSocketPath(path string) error {
	if _, err := missingDirs(filepath.Dir(path)); err != nil {
		return fmt.Errorf("listen on %s: %w", path, err)
	}
	return nil
}

// missingDirs returns the directories of dir that do not exist, deepest
// first, after checking the deepest one that does: a directory, and not
// one anyone may write to without the sticky bit.
func missingDirs(dir string) ([]string, error) {
	var missing []string
	p := filepath.Clean(dir)
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("%s is not a directory", p)
			}
			if m := fi.Mode(); m.Perm()&0o002 != 0 && m&os.ModeSticky == 0 {
				return nil, fmt.Errorf("directory %s is writable by everyone and not sticky (mode %v), so anyone could replace the socket; use a directory of its own", p, m.Perm())
			}
			return missing, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, p)
		parent := filepath.Dir(p)
		if parent == p {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		p = parent
	}
}

// socketDir makes sure dir exists, creating what is missing of it with
// mode 0700 (0750 and the group when group is not negative). It changes no
// directory it did not create, and removes those it created if it fails.
func socketDir(dir string, group int) (err error) {
	missing, err := missingDirs(dir)
	if err != nil {
		return err
	}
	mode := os.FileMode(0o700)
	if group >= 0 {
		mode = 0o750
	}
	var created []string
	defer func() {
		for i := len(created) - 1; err != nil && i >= 0; i-- {
			os.Remove(created[i])
		}
	}()
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, mode); err != nil {
			return fmt.Errorf("creating directory %s: %w", d, err)
		}
		created = append(created, d)
		// Mkdir applies the umask; the mode must not depend on it.
		if err := os.Chmod(d, mode); err != nil {
			return fmt.Errorf("setting mode of directory %s: %w", d, err)
		}
		if group >= 0 {
			if err := os.Chown(d, -1, group); err != nil {
				return fmt.Errorf("giving directory %s to group %d: %w", d, group, err)
			}
		}
	}
	return nil
}
