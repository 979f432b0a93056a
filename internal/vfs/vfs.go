// Package vfs is the file-system seam of the store's local files and the
// replica writer: the few operations engine/cas and engine/replica use to
// create, write, sync, rename and remove files, so that tests can run them
// on MemFS, which fails the k-th operation or "crashes" there, as Pebble's
// vfs and errorfs do. It knows nothing of what the files hold.
package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File is an open file. *os.File implements it.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	Name() string
	Stat() (os.FileInfo, error)
	Sync() error
	Truncate(size int64) error
}

// FS is the set of file operations the store and the replica writer use.
type FS interface {
	Open(name string) (File, error)
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	CreateTemp(dir, pattern string) (File, error)
	ReadFile(name string) ([]byte, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	Stat(name string) (os.FileInfo, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	RemoveAll(name string) error
	MkdirAll(path string, perm os.FileMode) error
	// SyncDir makes creations, renames and removals in dir durable.
	SyncDir(dir string) error
}

// OS is the operating system's file system.
type OS struct{}

// Default is the FS that a nil FS option means.
var Default FS = OS{}

// Or returns fsys, or Default when fsys is nil.
func Or(fsys FS) FS {
	if fsys == nil {
		return Default
	}
	return fsys
}

func (OS) Open(name string) (File, error) { return orNil(os.Open(name)) }
func (OS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	return orNil(os.OpenFile(name, flag, perm))
}
func (OS) CreateTemp(dir, pattern string) (File, error) { return orNil(os.CreateTemp(dir, pattern)) }
func (OS) ReadFile(name string) ([]byte, error)         { return os.ReadFile(name) }
func (OS) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }
func (OS) Stat(name string) (os.FileInfo, error)        { return os.Stat(name) }
func (OS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (OS) Remove(name string) error                     { return os.Remove(name) }
func (OS) RemoveAll(name string) error                  { return os.RemoveAll(name) }
func (OS) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }

// SyncDir fsyncs a directory, making renames and creations in it durable.
func (OS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// orNil keeps a nil *os.File from becoming a non-nil File.
func orNil(f *os.File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return f, nil
}

// WriteFile replaces path with data on fsys so that a crash leaves the old
// file or the new one: a temporary file in the same directory, written,
// chmodded to perm (where fsys keeps modes) and fsynced, then renamed over
// path, then the directory fsynced. Errors name path.
func WriteFile(fsys FS, path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := fsys.CreateTemp(dir, tempPrefix(filepath.Base(path))+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if c, ok := f.(interface{ Chmod(os.FileMode) error }); ok && err == nil {
		err = c.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(f.Name(), path)
	}
	if err != nil {
		fsys.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WalkFiles calls fn for every regular file under root with its path and
// size, depth first; a missing root is no files.
func WalkFiles(fsys FS, root string, fn func(path string, size int64) error) error {
	ents, err := fsys.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(root, e.Name())
		if e.IsDir() {
			if err := WalkFiles(fsys, p, fn); err != nil {
				return err
			}
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(p, info.Size()); err != nil {
			return err
		}
	}
	return nil
}

// tempPrefix starts the name of WriteFile's temporary file for base.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// RemoveWriteTemps removes from dir the temporary files WriteFile left for
// the files named when a writer was killed before its rename; they hold
// nothing that counts (the rename is what makes a write count). Call it
// only where no live writer can own them. It returns the paths it removed
// and every error it met; a missing dir is no error.
func RemoveWriteTemps(fsys FS, dir string, names ...string) ([]string, error) {
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
