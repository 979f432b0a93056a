package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrCrashed is what every operation on a MemFS returns after its crash.
var ErrCrashed = errors.New("vfs: simulated crash")

// MemFS is an in-memory FS that models what survives a power cut: a file's
// data survives as of its last Sync, and a name (a creation, rename or
// removal) survives only once its directory was synced. It counts the
// operations that change something (create, write, truncate, sync,
// rename, remove, mkdir, directory sync) and can fail the k-th of them
// with EIO (Fail), or crash there (Crash): the k-th and every later
// operation fail, and Durable returns what a reboot would find. Reads are
// not counted. Safe for concurrent use.
type MemFS struct {
	mu      sync.Mutex
	root    *memNode
	ops     int
	failAt  int
	crash   bool
	crashed bool
	durable *memNode // the state at the crash
	onCrash func()
	seq     int
	hit     string // the operation that failed or crashed
}

type memNode struct {
	dir        bool
	data       []byte
	synced     []byte
	ents       map[string]*memNode
	syncedEnts map[string]*memNode
	mtime      time.Time
}

func newDirNode() *memNode {
	return &memNode{dir: true, ents: map[string]*memNode{}, syncedEnts: map[string]*memNode{}}
}

// NewMem returns an empty MemFS holding only the root directory.
func NewMem() *MemFS { return &MemFS{root: newDirNode()} }

// Ops returns how many counted operations have run (or were attempted).
func (m *MemFS) Ops() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// Fail makes the k-th counted operation from now on fail with EIO, once.
func (m *MemFS) Fail(k int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failAt, m.crash = m.ops+k, false
}

// Crash makes the k-th counted operation from now on crash the file
// system; onCrash, if set, runs at that moment under the FS's lock (to
// crash another file system, such as the index's, at the same instant).
func (m *MemFS) Crash(k int, onCrash func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failAt, m.crash, m.onCrash = m.ops+k, true, onCrash
}

// Hit returns the operation that was failed or crashed ("sync /a/b"), or
// "" when none was.
func (m *MemFS) Hit() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hit
}

// Crashed reports whether the crash has happened.
func (m *MemFS) Crashed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crashed
}

// Durable returns a new MemFS holding what survives a crash now, or, once
// the crash has happened, what survived it.
func (m *MemFS) Durable() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.durable != nil {
		return &MemFS{root: cloneDurable(m.durable, map[*memNode]*memNode{})}
	}
	return &MemFS{root: cloneDurable(m.root, map[*memNode]*memNode{})}
}

// cloneDurable copies the synced part of n: synced data, synced names.
// Nodes reached by two names stay one node.
func cloneDurable(n *memNode, seen map[*memNode]*memNode) *memNode {
	if c, ok := seen[n]; ok {
		return c
	}
	if !n.dir {
		c := &memNode{data: append([]byte(nil), n.synced...), mtime: n.mtime}
		c.synced = c.data
		seen[n] = c
		return c
	}
	c := newDirNode()
	seen[n] = c
	for name, e := range n.syncedEnts {
		c.ents[name] = cloneDurable(e, seen)
		c.syncedEnts[name] = c.ents[name]
	}
	return c
}

// opLocked counts one operation and says whether it may go ahead.
func (m *MemFS) opLocked(op, path string) error {
	if m.crashed {
		return &os.PathError{Op: op, Path: path, Err: ErrCrashed}
	}
	m.ops++
	if m.ops != m.failAt {
		return nil
	}
	m.hit = op + " " + path
	if !m.crash {
		return &os.PathError{Op: op, Path: path, Err: syscall.EIO}
	}
	m.crashed = true
	m.durable = cloneDurable(m.root, map[*memNode]*memNode{})
	if m.onCrash != nil {
		m.onCrash()
	}
	return &os.PathError{Op: op, Path: path, Err: ErrCrashed}
}

// readLocked says whether a read may go ahead.
func (m *MemFS) readLocked(op, path string) error {
	if m.crashed {
		return &os.PathError{Op: op, Path: path, Err: ErrCrashed}
	}
	return nil
}

// lookupLocked returns the node at path (absolute, cleaned).
func (m *MemFS) lookupLocked(path string) (*memNode, error) {
	n := m.root
	for _, c := range splitPath(path) {
		if !n.dir {
			return nil, syscall.ENOTDIR
		}
		next, ok := n.ents[c]
		if !ok {
			return nil, fs.ErrNotExist
		}
		n = next
	}
	return n, nil
}

// parentLocked returns the directory holding path and path's last name.
func (m *MemFS) parentLocked(path string) (*memNode, string, error) {
	dir, base := filepath.Split(filepath.Clean(path))
	d, err := m.lookupLocked(dir)
	if err != nil {
		return nil, "", err
	}
	if !d.dir {
		return nil, "", syscall.ENOTDIR
	}
	return d, base, nil
}

func splitPath(path string) []string {
	path = strings.Trim(filepath.Clean(path), "/")
	if path == "" || path == "." {
		return nil
	}
	return strings.Split(path, "/")
}

func (m *MemFS) Open(name string) (File, error) { return m.OpenFile(name, os.O_RDONLY, 0) }

func (m *MemFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	writes := flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC) != 0
	var err error
	if writes {
		err = m.opLocked("open", name)
	} else {
		err = m.readLocked("open", name)
	}
	if err != nil {
		return nil, err
	}
	d, base, err := m.parentLocked(name)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	n, ok := d.ents[base]
	switch {
	case ok && flag&os.O_EXCL != 0 && flag&os.O_CREATE != 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		n = &memNode{mtime: time.Now()}
		d.ents[base] = n
	case n.dir:
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	if flag&os.O_TRUNC != 0 {
		n.data = nil
	}
	return &memFile{fs: m, n: n, name: name, append: flag&os.O_APPEND != 0,
		write: flag&(os.O_WRONLY|os.O_RDWR) != 0}, nil
}

func (m *MemFS) CreateTemp(dir, pattern string) (File, error) {
	for {
		m.mu.Lock()
		m.seq++
		name := strings.Replace(pattern, "*", fmt.Sprint(m.seq), 1)
		if !strings.Contains(pattern, "*") {
			name += fmt.Sprint(m.seq)
		}
		m.mu.Unlock()
		f, err := m.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

func (m *MemFS) ReadFile(name string) ([]byte, error) {
	f, err := m.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func (m *MemFS) ReadDir(name string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.readLocked("readdir", name); err != nil {
		return nil, err
	}
	d, err := m.lookupLocked(name)
	if err == nil && !d.dir {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, &os.PathError{Op: "readdir", Path: name, Err: err}
	}
	var out []fs.DirEntry
	for n, e := range d.ents {
		out = append(out, fs.FileInfoToDirEntry(e.info(n)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.readLocked("stat", name); err != nil {
		return nil, err
	}
	n, err := m.lookupLocked(name)
	if err != nil {
		return nil, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	return n.info(filepath.Base(name)), nil
}

func (m *MemFS) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.opLocked("rename", oldpath); err != nil {
		return err
	}
	od, ob, err := m.parentLocked(oldpath)
	if err == nil {
		var nd *memNode
		var nb string
		if nd, nb, err = m.parentLocked(newpath); err == nil {
			n, ok := od.ents[ob]
			if !ok {
				err = fs.ErrNotExist
			} else {
				delete(od.ents, ob)
				nd.ents[nb] = n
			}
		}
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.opLocked("remove", name); err != nil {
		return err
	}
	d, base, err := m.parentLocked(name)
	if err == nil {
		if n, ok := d.ents[base]; !ok {
			err = fs.ErrNotExist
		} else if n.dir && len(n.ents) > 0 {
			err = syscall.ENOTEMPTY
		} else {
			delete(d.ents, base)
		}
	}
	if err != nil {
		return &os.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.opLocked("removeall", name); err != nil {
		return err
	}
	if d, base, err := m.parentLocked(name); err == nil {
		delete(d.ents, base)
	}
	return nil
}

func (m *MemFS) MkdirAll(path string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.opLocked("mkdir", path); err != nil {
		return err
	}
	n := m.root
	for _, c := range splitPath(path) {
		next, ok := n.ents[c]
		if !ok {
			next = newDirNode()
			n.ents[c] = next
		}
		if !next.dir {
			return &os.PathError{Op: "mkdir", Path: path, Err: syscall.ENOTDIR}
		}
		n = next
	}
	return nil
}

func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.opLocked("syncdir", dir); err != nil {
		return err
	}
	d, err := m.lookupLocked(dir)
	if err == nil && !d.dir {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return &os.PathError{Op: "syncdir", Path: dir, Err: err}
	}
	d.syncedEnts = make(map[string]*memNode, len(d.ents))
	for k, v := range d.ents {
		d.syncedEnts[k] = v
	}
	return nil
}
