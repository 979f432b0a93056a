// Package vfs is the file-system seam of the store's local files and the
// replica writer: the few operations engine/cas and engine/replica use to
// create, write, sync, rename and remove files, so that tests can run them
// on MemFS, which fails the k-th operation or "crashes" there, as Pebble's
// vfs and errorfs do. It knows nothing of what the files hold.
package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
