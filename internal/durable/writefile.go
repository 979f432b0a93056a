package durable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmrep/vmrep/internal/vfs"
)

// WriteFile replaces path with data so that a crash leaves the old file or
// the new one (WriteFileFS on the OS). Errors name path.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFileFS(vfs.OS{}, path, data, perm)
}

// WriteFileFS replaces path with data on fsys so that a crash leaves the
// old file or the new one: a File, written, chmodded to perm (where fsys
// keeps modes) and committed. Errors name path.
func WriteFileFS(fsys vfs.FS, path string, data []byte, perm os.FileMode) error {
	f, err := Create(fsys, path, Options{})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer f.Close() // removes the temporary file unless committed
	_, err = f.Write(data)
	if c, ok := f.File.(interface{ Chmod(os.FileMode) error }); ok && err == nil {
		err = c.Chmod(perm)
	}
	if err == nil {
		err = f.Commit()
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// tempPrefix starts the name of the temporary file of a File with the
// default naming, as WriteFile's, for base.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// RemoveWriteTemps removes from dir the temporary files WriteFile left for
// the files named when a writer was killed before its rename; they hold
// nothing that counts (the rename is what makes a write count). Call it
// only where no live writer can own them. It returns the paths it removed
// and every error it met; a missing dir is no error.
func RemoveWriteTemps(fsys vfs.FS, dir string, names ...string) ([]string, error) {
	ents, err := fsys.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("remove leftovers in %s: %w", dir, err)
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		for _, n := range names {
			if !strings.HasPrefix(e.Name(), tempPrefix(n)) || !e.Type().IsRegular() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if err := fsys.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove leftover %s: %w", p, err))
			} else if err == nil {
				removed = append(removed, p)
			}
		}
	}
	return removed, errors.Join(errs...)
}
