package crashtest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	pebblevfs "github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/internal/vfs"
)

// storeDir is the store directory inside a world.
const storeDir = "/store"

// world is one machine's disks: the store's files on a MemFS and its index
// on Pebble's crashable MemFS. A crash of the MemFS crash-clones the index
// at the same instant, so the two are cut at one moment, as a power cut
// cuts them.
type world struct {
	fs      *vfs.MemFS
	pfs     *pebblevfs.MemFS
	crashed *pebblevfs.MemFS // the index at the crash
}

// load copies the real directory src into m at dst, every file and name
// synced.
func load(t testing.TB, m *vfs.MemFS, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			if err := m.MkdirAll(to, 0o755); err != nil {
				return err
			}
			return m.SyncDir(filepath.Dir(to))
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := m.OpenFile(to, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := f.Write(b); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		f.Close()
		return m.SyncDir(filepath.Dir(to))
	})
	if err != nil {
		t.Fatalf("load %s into the memory file system: %v", src, err)
	}
}

// newStoreWorld returns a world holding a fresh store made with cfg.
func newStoreWorld(t testing.TB, cfg cas.Config) *world {
	t.Helper()
	real := filepath.Join(t.TempDir(), "store")
	if err := cas.Init(context.Background(), real, cfg); err != nil {
		t.Fatal(err)
	}
	w := &world{fs: vfs.NewMem(), pfs: pebblevfs.NewCrashableMem()}
	load(t, w.fs, real, storeDir)
	return w
}

// open opens the world's store.
func (w *world) open(ctx context.Context) (*cas.Store, error) {
	return cas.Open(ctx, storeDir, cas.Options{FS: w.fs, PebbleFS: w.pfs})
}

// clone returns what survives a crash of w now (or at its crash).
func (w *world) clone() *world {
	pfs := w.crashed
	if pfs == nil {
		pfs = w.pfs.CrashClone(pebblevfs.CrashCloneCfg{})
	}
	return &world{fs: w.fs.Durable(), pfs: pfs}
}

// crashAt arms a crash at the k-th file operation from now.
func (w *world) crashAt(k int) {
	w.fs.Crash(k, func() { w.crashed = w.pfs.CrashClone(pebblevfs.CrashCloneCfg{}) })
}
