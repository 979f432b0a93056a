package cas

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/internal/vfs"
)

// maxOpenPacks bounds the descriptors the local backend keeps open.
const maxOpenPacks = 64

// localBackend keeps packs and records in the store directory itself.
type localBackend struct {
	dir string
	fs  vfs.FS

	mu struct {
		sync.Mutex
		lru   *list.List // of *openFile, most recent first
		files map[string]*list.Element
	}
}

type openFile struct {
	path    string
	f       vfs.File
	refs    int
	evicted bool
}

// NewLocalBackend returns the backend that keeps files under the store
// directory dir (packs/, records/), as laid out in doc/design.md.
func NewLocalBackend(dir string) Backend { return newLocalBackendFS(vfs.Default, dir) }

// newLocalBackendFS is NewLocalBackend on fsys.
func newLocalBackendFS(fsys vfs.FS, dir string) Backend {
	b := &localBackend{dir: dir, fs: fsys}
	b.mu.lru = list.New()
	b.mu.files = make(map[string]*list.Element)
	return b
}

func (b *localBackend) path(h Handle) (string, error) {
	switch h.Kind {
	case FilePack:
		if !isPackName(h.Name) {
			return "", fmt.Errorf("bad pack name %q", h.Name)
		}
		return filepath.Join(b.dir, "packs", h.Name[:2], h.Name+".pack"), nil
	case FileRecord:
		sub, name, ok := strings.Cut(h.Name, "/")
		if !ok || (sub != "vgs" && sub != "snapshots") || validRecordName(name) != nil {
			return "", fmt.Errorf("bad record file name %q", h.Name)
		}
		return filepath.Join(b.dir, "records", sub, name), nil
	case FileConfig:
		if h.Name != "config" {
			return "", fmt.Errorf("bad config file name %q", h.Name)
		}
		return filepath.Join(b.dir, "config"), nil
	}
	return "", fmt.Errorf("bad file kind %d", h.Kind)
}

func isPackName(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (b *localBackend) List(ctx context.Context, kind FileKind, fn func(string, int64) error) error {
	var roots []string
	switch kind {
	case FilePack:
		roots = []string{"packs"}
	case FileRecord:
		roots = []string{"records/vgs", "records/snapshots"}
	case FileConfig:
		info, err := b.fs.Stat(filepath.Join(b.dir, "config"))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list config files in %s: %w", b.dir, err)
		}
		return fn("config", info.Size())
	default:
		return fmt.Errorf("list: bad file kind %d", kind)
	}
	for _, root := range roots {
		err := vfs.WalkFiles(b.fs, filepath.Join(b.dir, root), func(p string, size int64) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			name := filepath.Base(p)
			if kind == FilePack {
				var ok bool
				if name, ok = strings.CutSuffix(name, ".pack"); !ok || !isPackName(name) {
					return nil // not ours; Verify does not judge stray files
				}
			} else {
				name = filepath.Base(filepath.Dir(p)) + "/" + name
			}
			return fn(name, size)
		})
		if err != nil {
			return fmt.Errorf("list %s files in %s: %w", kind, b.dir, err)
		}
	}
	return nil
}

func (b *localBackend) ReadAt(ctx context.Context, h Handle, p []byte, off int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	path, err := b.path(h)
	if err != nil {
		return err
	}
	of, err := b.acquire(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w: %w", h, blob.ErrNotFound, err)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", h, err)
	}
	_, err = of.f.ReadAt(p, off)
	b.release(of)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("read %s at %d: %w", h, off, err)
	}
	return nil
}

func (b *localBackend) acquire(path string) (*openFile, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if el, ok := b.mu.files[path]; ok {
		b.mu.lru.MoveToFront(el)
		of := el.Value.(*openFile)
		of.refs++
		return of, nil
	}
	f, err := b.fs.Open(path)
	if err != nil {
		return nil, err
	}
	of := &openFile{path: path, f: f, refs: 1}
	b.mu.files[path] = b.mu.lru.PushFront(of)
	for b.mu.lru.Len() > maxOpenPacks {
		b.evictLocked(b.mu.lru.Back())
	}
	return of, nil
}

func (b *localBackend) release(of *openFile) {
	b.mu.Lock()
	defer b.mu.Unlock()
	of.refs--
	if of.refs == 0 && of.evicted {
		of.f.Close()
	}
}

// evictLocked drops el from the cache; its file closes when the last
// reader releases it.
func (b *localBackend) evictLocked(el *list.Element) {
	of := el.Value.(*openFile)
	b.mu.lru.Remove(el)
	delete(b.mu.files, of.path)
	of.evicted = true
	if of.refs == 0 {
		of.f.Close()
	}
}

func (b *localBackend) Put(ctx context.Context, h Handle, f vfs.File) error {
	tmpName := f.Name()
	defer b.fs.Remove(tmpName) // no-op after a successful rename
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("put %s: sync %s: %w", h, tmpName, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	path, err := b.path(h)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if _, err := b.fs.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := b.fs.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("put %s: %w", h, err)
		}
		if err := b.fs.SyncDir(filepath.Dir(dir)); err != nil {
			return fmt.Errorf("put %s: %w", h, err)
		}
	}
	if err := b.fs.Rename(tmpName, path); err != nil {
		return fmt.Errorf("put %s: %w", h, err)
	}
	// Records are rewritten under the same name: a descriptor cached for
	// the old file would go on reading the old inode.
	b.mu.Lock()
	if el, ok := b.mu.files[path]; ok {
		b.evictLocked(el)
	}
	b.mu.Unlock()
	if err := b.fs.SyncDir(dir); err != nil {
		return fmt.Errorf("put %s: %w", h, err)
	}
	return nil
}

func (b *localBackend) Delete(ctx context.Context, h Handle) error {
	path, err := b.path(h)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if el, ok := b.mu.files[path]; ok {
		b.evictLocked(el)
	}
	b.mu.Unlock()
	if err := b.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", h, err)
	}
	if err := b.fs.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("delete %s: %w", h, err)
	}
	return nil
}

// SyncNames fsyncs the directories that hold files of kind, so that the
// names a List returns are the names a crash keeps. A Put or Delete whose
// directory fsync failed leaves a name (or a removal) that the page cache
// shows but the disk may not keep; Open calls this before its recovery
// trusts a listing enough to index or drop what it lists.
func (b *localBackend) SyncNames(ctx context.Context, kind FileKind) error {
	var dirs []string
	switch kind {
	case FilePack:
		root := filepath.Join(b.dir, "packs")
		ents, err := b.fs.ReadDir(root)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sync %s: %w", root, err)
		}
		for _, e := range ents {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(root, e.Name()))
			}
		}
		dirs = append(dirs, root)
	case FileRecord:
		dirs = []string{filepath.Join(b.dir, "records", "vgs"), filepath.Join(b.dir, "records", "snapshots"), filepath.Join(b.dir, "records")}
	}
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.fs.SyncDir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sync %s: %w", d, err)
		}
	}
	return nil
}

// Close closes every cached descriptor; Store.Close calls it.
func (b *localBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.mu.lru.Len() > 0 {
		b.evictLocked(b.mu.lru.Back())
	}
	return nil
}
