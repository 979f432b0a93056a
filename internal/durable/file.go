package durable

import (
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/internal/vfs"
)

// Options says how Create names and handles a File.
type Options struct {
	// Pattern names the temporary file in the target's directory, as
	// os.CreateTemp's pattern does. Each writer keeps its own naming, so
	// that the clean-up of leftovers of killed writers (RemoveWriteTemps,
	// restore's scan for dead pids) still finds them. Empty means
	// "."+base+".tmp-*", the naming of WriteFile.
	Pattern string
	// Writeback starts the kernel's writeback while the file is written
	// (see Writeback); only on the OS's files.
	Writeback bool
	// KeepOpen leaves the file open after Commit, for reading it back;
	// Close then only closes it.
	KeepOpen bool
}

// File is a new file written under a temporary name beside its target and
// put in its place by Commit: the data fsynced, renamed over the target,
// the directory fsynced, in that order. Until Commit, a crash or an error
// leaves the old target (or none), never a part-written one; Close before
// Commit removes the temporary file. Its methods of vfs.File act on the
// temporary file; Name is its path.
type File struct {
	vfs.File
	fsys      vfs.FS
	path      string
	wb        *Writeback
	keepOpen  bool
	committed bool // renamed over the target
	closed    bool
	removed   bool // the temporary file, by an abort
}

// Create creates the temporary file for path on fsys (nil is the OS).
func Create(fsys vfs.FS, path string, opts Options) (*File, error) {
	if fsys == nil {
		fsys = vfs.OS{}
	}
	pattern := opts.Pattern
	if pattern == "" {
		pattern = tempPrefix(filepath.Base(path)) + "*"
	}
	tf, err := fsys.CreateTemp(filepath.Dir(path), pattern)
	if err != nil {
		return nil, err
	}
	f := &File{File: tf, fsys: fsys, path: path, keepOpen: opts.KeepOpen}
	if of, ok := tf.(*os.File); ok && opts.Writeback {
		f.wb = NewWriteback(of)
	}
	return f, nil
}

// Path returns the target's path.
func (f *File) Path() string { return f.path }

// OS returns the temporary file as an *os.File, or nil when it is not one.
func (f *File) OS() *os.File {
	of, _ := f.File.(*os.File)
	return of
}

// Write writes p at the file's offset.
func (f *File) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.wb.Wrote(n)
	return n, err
}

// WriteAt writes p at off. Safe for concurrent use, as the file's is.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.wb.Wrote(n)
	return n, err
}

// Commit fsyncs the file, closes it (unless KeepOpen), renames it over the
// target and fsyncs the directory. When it fails before the rename, the
// temporary file is removed; its error is the failed operation's.
func (f *File) Commit() error {
	if err := f.CommitNoDirSync(); err != nil {
		return err
	}
	return f.fsys.SyncDir(filepath.Dir(f.path))
}

// CommitNoDirSync is Commit without the directory fsync, for a writer of
// several files in one directory that fsyncs it once (SyncDir) after the
// last rename; until then a crash may lose the renames.
func (f *File) CommitNoDirSync() error {
	err := f.File.Sync()
	if !f.keepOpen && err == nil {
		f.closed = true
		err = f.File.Close()
	}
	if err == nil {
		err = f.fsys.Rename(f.File.Name(), f.path)
	}
	if err != nil {
		f.Close()
		return err
	}
	f.committed = true
	return nil
}

// Close closes the file. Before Commit it also removes the temporary file
// (so that a deferred Close aborts a write that did not commit); after it,
// it only closes a file kept open. It returns the close's error.
func (f *File) Close() error {
	var err error
	if !f.closed {
		f.closed = true
		err = f.File.Close()
	}
	if !f.committed && !f.removed {
		f.removed = true
		f.fsys.Remove(f.File.Name())
	}
	return err
}
