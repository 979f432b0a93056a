package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/fusefs"
	"github.com/vmrep/vmrep/internal/durable"
)

// mountsFile is the list of active FUSE mounts, kept in the store
// directory so that a daemon killed while mounted finds, on its next start,
// the stale mounts to clean and mount again. An entry lives from
// `vmrep mount` to `vmrep umount`; a clean shutdown unmounts but keeps the
// entries, so a restarted daemon serves the same mounts.
const mountsFile = "mounts.json"

// mountTable is the daemon's FUSE mounts, keyed by the real path of the
// mount point, mirrored in mountsFile.
type mountTable struct {
	state string
	cat   fusefs.Catalog
	r     blob.Reader
	log   *slog.Logger
	// onRead, when set, learns of every read of a mount (metrics.go).
	onRead func(n int, err error)
	mu     sync.Mutex
	m      map[string]*activeMount
}

type activeMount struct {
	info api.MountInfo
	mnt  *fusefs.Mounted
}

func newMountTable(storeDir string, cat *volume.Catalog, r blob.Reader, log *slog.Logger) *mountTable {
	return &mountTable{state: filepath.Join(storeDir, mountsFile), cat: cat, r: r, log: log,
		m: make(map[string]*activeMount)}
}

// checkMountDir checks a mount point like the other endpoints check paths:
// absolute, existing, a directory, neither inside the store nor holding it.
// It returns the real path, the key of the mount table.
func (s *Server) checkMountDir(p string) (string, *api.Error) {
	if !filepath.IsAbs(p) {
		return "", api.Errorf(api.CodeInvalid, "mount point %q is not absolute", p)
	}
	rp, err := realPath(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", api.Errorf(api.CodeInvalid, "mount point %s does not exist", p)
	}
	if err != nil {
		return "", api.Errorf(api.CodeInvalid, "mount point %s: %v", p, err)
	}
	fi, err := os.Stat(rp)
	switch {
	case err != nil:
		return "", api.Errorf(api.CodeInvalid, "mount point %s: %v", p, err)
	case !fi.IsDir():
		return "", api.Errorf(api.CodeInvalid, "mount point %s is not a directory", p)
	case within(rp, s.storeDir) || within(s.storeDir, rp):
		return "", api.Errorf(api.CodeInvalid, "mount point %s is inside the store or holds it", p)
	}
	return rp, nil
}

func (s *Server) mount(w http.ResponseWriter, r *http.Request) error {
	var req api.MountRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	if req.CacheSize < 0 {
		return api.Errorf(api.CodeInvalid, "cache size %d is negative", req.CacheSize)
	}
	dir, e := s.checkMountDir(req.Dir)
	if e != nil {
		return e
	}
	info := api.MountInfo{Dir: dir, AllowOther: req.AllowOther, CacheSize: req.CacheSize, Since: time.Now().UTC()}
	if info.CacheSize == 0 {
		info.CacheSize = fusefs.DefaultCacheSize
	}
	if err := s.mounts.add(r.Context(), info, req.Force); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, info)
	return nil
}

func (s *Server) listMounts(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.mounts.list())
	return nil
}

func (s *Server) unmount(w http.ResponseWriter, r *http.Request) error {
	var req api.UnmountRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	if !filepath.IsAbs(req.Dir) {
		return api.Errorf(api.CodeInvalid, "mount point %q is not absolute", req.Dir)
	}
	dir := filepath.Clean(req.Dir)
	if rp, err := realPath(dir); err == nil {
		dir = rp
	}
	if err := s.mounts.remove(dir); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// add mounts info.Dir and records it. A directory that holds files is
// refused unless force: the mount would hide them.
func (t *mountTable) add(ctx context.Context, info api.MountInfo, force bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[info.Dir]; ok {
		return api.Errorf(api.CodeExists, "%s is already mounted", info.Dir)
	}
	if !force && hasEntries(info.Dir) {
		return api.Errorf(api.CodeExists, "mount point %s is not empty: the mount would hide its files; mount over them with --force", info.Dir)
	}
	if err := t.mountLocked(ctx, info); err != nil {
		return err
	}
	if err := t.saveLocked(); err != nil {
		t.m[info.Dir].mnt.Unmount()
		delete(t.m, info.Dir)
		return err
	}
	return nil
}

// mountLocked cleans what a dead daemon left at info.Dir and mounts there.
func (t *mountTable) mountLocked(ctx context.Context, info api.MountInfo) error {
	if err := fusefs.CleanStale(info.Dir); err != nil {
		return api.Errorf(api.CodeBusy, "mount %s: %v", info.Dir, err)
	}
	mnt, err := fusefs.Mount(ctx, info.Dir, t.cat, t.r, fusefs.Options{
		CacheSize: info.CacheSize, AllowOther: info.AllowOther, Logger: t.log, OnRead: t.onRead,
	})
	if err != nil {
		return fmt.Errorf("mount store at %s: %w", info.Dir, err)
	}
	am := &activeMount{info: info, mnt: mnt}
	t.m[info.Dir] = am
	// Someone may unmount it behind the daemon's back (umount DIR): then
	// forget it, as `vmrep umount` would.
	go func() {
		mnt.Wait()
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.m[info.Dir] == am {
			delete(t.m, info.Dir)
			if err := t.saveLocked(); err != nil {
				t.log.Warn("recording mounts", "err", err)
			}
			t.log.Info("mount went away", "dir", info.Dir)
		}
	}()
	return nil
}

// remove unmounts dir and forgets it.
func (t *mountTable) remove(dir string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	am, ok := t.m[dir]
	if !ok {
		return api.Errorf(api.CodeNotFound, "%s is not mounted by vmrepd", dir)
	}
	if err := am.mnt.Unmount(); err != nil {
		return api.Errorf(api.CodeBusy, "%v (a file is open or a process works inside)", err)
	}
	delete(t.m, dir)
	return t.saveLocked()
}

func (t *mountTable) list() []api.MountInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]api.MountInfo, 0, len(t.m))
	for _, am := range t.m {
		out = append(out, am.info)
	}
	slices.SortFunc(out, func(a, b api.MountInfo) int { return strings.Compare(a.Dir, b.Dir) })
	return out
}

// saveLocked writes the table to the state file atomically: a temp file,
// fsynced, renamed over the old one, and the directory fsynced.
func (t *mountTable) saveLocked() error {
	infos := make([]api.MountInfo, 0, len(t.m))
	for _, am := range t.m {
		infos = append(infos, am.info)
	}
	slices.SortFunc(infos, func(a, b api.MountInfo) int { return strings.Compare(a.Dir, b.Dir) })
	b, err := json.MarshalIndent(infos, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", t.state, err)
	}
	return durable.WriteFile(t.state, append(b, '\n'), 0o600)
}

// restore mounts again what the state file lists: after a crash each mount
// point still holds a dead FUSE mount, which mountLocked cleans first. A
// mount that fails is logged and dropped from the file.
func (t *mountTable) restore(ctx context.Context) {
	b, err := os.ReadFile(t.state)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var infos []api.MountInfo
	if err == nil {
		err = json.Unmarshal(b, &infos)
	}
	if err != nil {
		t.log.Warn("reading mounts to restore; none restored", "file", t.state, "err", err)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, info := range infos {
		if err := t.mountLocked(ctx, info); err != nil {
			t.log.Warn("mounting again after restart", "dir", info.Dir, "err", err)
			continue
		}
		t.log.Info("mounted again", "dir", info.Dir)
	}
	if err := t.saveLocked(); err != nil {
		t.log.Warn("recording mounts", "err", err)
	}
}

// unmountAll unmounts every mount at shutdown, keeping the state file. A
// busy mount is detached lazily: it goes away once its users let go, and
// the next start cleans it if it is still there.
func (t *mountTable) unmountAll() {
	t.mu.Lock()
	ams := make([]*activeMount, 0, len(t.m))
	for dir, am := range t.m {
		ams = append(ams, am)
		delete(t.m, dir)
	}
	t.mu.Unlock()
	for _, am := range ams {
		if err := am.mnt.Unmount(); err != nil {
			t.log.Warn("unmount at shutdown; detaching", "dir", am.info.Dir, "err", err)
			if err := fusefs.CleanStale(am.info.Dir); err != nil {
				t.log.Warn("detach at shutdown", "dir", am.info.Dir, "err", err)
			}
		}
	}
}
