package fusefs

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// requireFUSE skips a test that needs root and /dev/fuse where they are
// missing, except under CI, where a missing prerequisite is a failure.
func requireFUSE(t testing.TB) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root to mount with DirectMount"
	} else if _, err := os.Stat("/dev/fuse"); err != nil {
		why = "needs /dev/fuse: " + err.Error()
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("FUSE test cannot run under CI: %s", why)
	}
	t.Skip(why)
}

// requireTool is requireFUSE for an external program.
func requireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
}

// fixture is a real store and catalog in a temp dir.
type fixture struct {
	dir   string
	store *cas.Store
	cat   *volume.Catalog
	cut   *chunker.Cutter
}

func newFixture(t testing.TB, chunk *blob.ChunkerParams) *fixture {
	t.Helper()
	return newFixtureConfig(t, func(c *cas.Config) {
		if chunk != nil {
			c.Chunker = *chunk
		}
	})
}

// newFixtureConfig is newFixture with the store's config set by edit.
func newFixtureConfig(t testing.TB, edit func(*cas.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	cfg := cas.DefaultConfig()
	edit(&cfg)
	if err := cas.Init(ctx, dir, cfg); err != nil {
		t.Fatal(err)
	}
	st, err := cas.Open(ctx, dir, cas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cut, err := ingest.NewCutter(st.Config().Chunker)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: dir, store: st, cat: volume.NewCatalog(st), cut: cut}
}

// createVG records a VG whose volumes are read from the given files; the
// first is the boot volume.
func (f *fixture) createVG(t testing.TB, name string, vols map[string]string, order ...string) volume.VG {
	t.Helper()
	vg := volume.VG{Name: name}
	for i, vn := range order {
		role := volume.RoleData
		if i == 0 {
			role = volume.RoleBoot
		}
		fi, err := os.Stat(vols[vn])
		if err != nil {
			t.Fatal(err)
		}
		vg.Volumes = append(vg.Volumes, volume.Volume{Name: vn, Role: role, Size: fi.Size(), Source: vols[vn]})
	}
	vg, err := f.cat.CreateVG(context.Background(), vg)
	if err != nil {
		t.Fatal(err)
	}
	return vg
}

// snapshot ingests every volume of vg with the real ingest path.
func (f *fixture) snapshot(t testing.TB, vg volume.VG) volume.Snapshot {
	t.Helper()
	open := func(ctx context.Context, v volume.Volume) (source.Reader, error) { return source.Open(ctx, v.Source) }
	snap, _, err := ingest.Snapshot(context.Background(), f.store, f.cat, vg, open,
		ingest.SnapshotOptions{Options: ingest.Options{Cutter: f.cut}})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// mount mounts the fixture's store at a fresh dir and unmounts in cleanup.
func (f *fixture) mount(t testing.TB, opts Options) *Mounted {
	t.Helper()
	requireFUSE(t)
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := Mount(context.Background(), dir, f.cat, f.store, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return m
}

// writeImage writes a volume image of size bytes: random runs, text runs
// (compressible) and zero runs (holes), so every read path is exercised.
func writeImage(t testing.TB, path string, size int64, seed uint64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	buf := make([]byte, size)
	words := [][]byte{[]byte("snapshot "), []byte("volume "), []byte("chunk\n"), []byte("manifest "), []byte("page ")}
	for off := int64(0); off < size; {
		n := min(int64(64<<10+rng.IntN(512<<10)), size-off)
		switch rng.IntN(4) {
		case 0: // zeros: a hole once ingested
		case 1:
			var b bytes.Buffer
			for int64(b.Len()) < n {
				b.Write(words[rng.IntN(len(words))])
			}
			copy(buf[off:off+n], b.Bytes())
		default:
			for i := off; i < off+n; i += 8 {
				v := rng.Uint64()
				for k := int64(0); k < 8 && i+k < off+n; k++ {
					buf[i+k] = byte(v >> (8 * k))
				}
			}
		}
		off += n
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return buf
}

// eventually waits for a catalog change to show through the mount.
func eventually(t testing.TB, what string, cond func() error) {
	t.Helper()
	testdisk.Eventually(t, what, 10*time.Second, cond)
}
