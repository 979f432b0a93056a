package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmrep/vmrep/api"
)

// realPath resolves symlinks so that containment checks see the real place.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

func isBlockDevice(fi os.FileInfo) bool {
	return fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0
}

// within reports whether p is dir or lies under it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}

// checkSource checks a volume source path a client sent: absolute, existing,
// a regular file or a block device, and not inside the store.
func (s *Server) checkSource(what, p string) (string, *api.Error) {
	if !filepath.IsAbs(p) {
		return "", api.Errorf(api.CodeInvalid, "%s: path %q is not absolute", what, p)
	}
	rp, err := realPath(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", api.Errorf(api.CodeInvalid, "%s: %s does not exist", what, p)
	}
	if err != nil {
		return "", api.Errorf(api.CodeInvalid, "%s: %v", what, err)
	}
	fi, err := os.Stat(rp)
	if err != nil {
		return "", api.Errorf(api.CodeInvalid, "%s: %v", what, err)
	}
	switch {
	case fi.IsDir():
		return "", api.Errorf(api.CodeInvalid, "%s: %s is a directory, not an image file or block device", what, p)
	case !fi.Mode().IsRegular() && !isBlockDevice(fi):
		return "", api.Errorf(api.CodeInvalid, "%s: %s is not a regular file or block device", what, p)
	case within(rp, s.storeDir):
		return "", api.Errorf(api.CodeInvalid, "%s: %s is inside the store", what, p)
	}
	return p, nil
}

// checkOutput checks a restore target: absolute, its parent an existing
// directory outside the store, and itself absent, a regular file or a
// block device.
func (s *Server) checkOutput(p string) *api.Error {
	if !filepath.IsAbs(p) {
		return api.Errorf(api.CodeInvalid, "output path %q is not absolute", p)
	}
	parent, err := realPath(filepath.Dir(p))
	if err != nil {
		return api.Errorf(api.CodeInvalid, "output %s: parent directory: %v", p, err)
	}
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return api.Errorf(api.CodeInvalid, "output %s: parent is not a directory", p)
	}
	if within(filepath.Join(parent, filepath.Base(p)), s.storeDir) {
		return api.Errorf(api.CodeInvalid, "output %s is inside the store", p)
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return api.Errorf(api.CodeInvalid, "output %s: %v", p, err)
	case fi.Mode().IsRegular() || isBlockDevice(fi):
		if rp, err := realPath(p); err == nil && within(rp, s.storeDir) {
			return api.Errorf(api.CodeInvalid, "output %s is inside the store", p)
		}
		return nil
	}
	return api.Errorf(api.CodeInvalid, "output %s is not a regular file or block device", p)
}

// checkDir checks a directory the daemon writes into (a replica, a split
// delta, a stack): absolute, its parent an existing directory, not inside
// the store, and itself a directory when it exists; with mustExist it has
// to exist already.
func (s *Server) checkDir(what, p string, mustExist bool) *api.Error {
	if !filepath.IsAbs(p) {
		return api.Errorf(api.CodeInvalid, "%s path %q is not absolute", what, p)
	}
	parent, err := realPath(filepath.Dir(p))
	if err != nil {
		return api.Errorf(api.CodeInvalid, "%s %s: parent directory: %v", what, p, err)
	}
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return api.Errorf(api.CodeInvalid, "%s %s: parent is not a directory", what, p)
	}
	if within(filepath.Join(parent, filepath.Base(p)), s.storeDir) {
		return api.Errorf(api.CodeInvalid, "%s %s is inside the store", what, p)
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist) && mustExist:
		return api.Errorf(api.CodeInvalid, "%s %s does not exist", what, p)
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return api.Errorf(api.CodeInvalid, "%s %s: %v", what, p, err)
	case !fi.IsDir():
		return api.Errorf(api.CodeInvalid, "%s %s is not a directory", what, p)
	}
	if rp, err := realPath(p); err == nil && within(rp, s.storeDir) {
		return api.Errorf(api.CodeInvalid, "%s %s is inside the store", what, p)
	}
	return nil
}

// checkInput checks a file or directory the daemon only reads (a delta):
// absolute, existing, not inside the store.
func (s *Server) checkInput(what, p string) *api.Error {
	if !filepath.IsAbs(p) {
		return api.Errorf(api.CodeInvalid, "%s path %q is not absolute", what, p)
	}
	rp, err := realPath(p)
	if errors.Is(err, os.ErrNotExist) {
		return api.Errorf(api.CodeInvalid, "%s %s does not exist", what, p)
	}
	if err != nil {
		return api.Errorf(api.CodeInvalid, "%s %s: %v", what, p, err)
	}
	if within(rp, s.storeDir) {
		return api.Errorf(api.CodeInvalid, "%s %s is inside the store", what, p)
	}
	return nil
}

// lockKey names a path for dirLocks the same way whichever spelling the
// client used, also before the path exists.
func lockKey(p string) string {
	if rp, err := realPath(filepath.Dir(p)); err == nil {
		return filepath.Join(rp, filepath.Base(p))
	}
	return filepath.Clean(p)
}

// hasEntries reports whether dir is a directory holding at least one
// entry. One it cannot read (a dead FUSE mount a killed daemon left)
// counts as empty: whoever mounts there cleans it first.
func hasEntries(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) > 0
}
