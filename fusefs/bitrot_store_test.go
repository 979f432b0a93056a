package fusefs

import (
	"context"
	"encoding/binary"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/volume"
)

// rotStore is the store the bit-rot suite damages copies of: a VG of a few
// volumes with several snapshots, and the source bytes of every volume of
// every snapshot, by snapshot seq and volume name.
type rotStore struct {
	dir   string
	vg    string
	src   map[uint64]map[string][]byte
	spans map[string][]rotSpan // by file kind: where flips may land
}

// rotSpan is a byte range of one store file (path relative to the store).
type rotSpan struct {
	file     string
	from, to int64
	dead     bool // nothing reads the file: an obsolete index MANIFEST
}

// File kinds the suite flips bits in.
const (
	kindPackData = "pack data"
	kindFooter   = "pack footer"
	kindRecord   = "record file"
	kindPage     = "manifest page"
	kindNoIndex  = "pack footer, index lost" // the rebuild from packs meets the flip
	kindTable    = "index table (sst)"
	kindWAL      = "index WAL"
	kindManifest = "index MANIFEST"
	kindOptions  = "index OPTIONS"
)

var rotKinds = []string{kindPackData, kindFooter, kindNoIndex, kindRecord, kindPage, kindTable, kindWAL, kindManifest, kindOptions}

// indexFileKind sorts a file of the Pebble index directory by kind.
func indexFileKind(name string) string {
	switch {
	case strings.HasSuffix(name, ".sst"):
		return kindTable
	case strings.HasSuffix(name, ".log"):
		return kindWAL
	case strings.HasPrefix(name, "MANIFEST-"):
		return kindManifest
	case strings.HasPrefix(name, "OPTIONS-"):
		return kindOptions
	}
	return "index, other"
}

// reopenFixture closes the fixture's store and opens it again.
func reopenFixture(t *testing.T, f *fixture) {
	t.Helper()
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := openRot(context.Background(), f.dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.store, f.cat = st, volume.NewCatalog(st)
}

// buildRotStore ingests snapshots volumes of random, text and zero runs,
// changing some of each volume between snapshots, into small packs.
func buildRotStore(t *testing.T, volumes, snapshots int, size int64) *rotStore {
	t.Helper()
	f := newFixtureConfig(t, func(c *cas.Config) { c.PackSize = 1 << 20 })
	srcDir := t.TempDir()
	paths := map[string]string{}
	var order []string
	imgs := map[string][]byte{}
	for i := range volumes {
		name := string(rune('a'+i)) + "vol"
		paths[name] = filepath.Join(srcDir, name)
		imgs[name] = writeImage(t, paths[name], size, uint64(100+i))
		order = append(order, name)
	}
	vg := f.createVG(t, "rot", paths, order...)
	rs := &rotStore{dir: f.dir, vg: vg.Name, src: map[uint64]map[string][]byte{}}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range snapshots {
		if i == snapshots-1 {
			// Reopening flushes the index's log into a table, so that the
			// copies hold both a table and a log with the last snapshot.
			reopenFixture(t, f)
		}
		snap := f.snapshot(t, vg)
		rs.src[snap.Seq] = map[string][]byte{}
		for _, name := range order {
			rs.src[snap.Seq][name] = slices.Clone(imgs[name])
			// Change a random run and zero another for the next snapshot.
			off, n := rng.Int64N(size-256<<10), int64(64<<10+rng.IntN(192<<10))
			for i := off; i < off+n; i++ {
				imgs[name][i] = byte(rng.Uint32())
			}
			clear(imgs[name][rng.Int64N(size-128<<10):][:128<<10])
			if err := os.WriteFile(paths[name], imgs[name], 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	rs.spans = rotSpans(t, f)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	return rs
}

// rotSpans lists where flips of each kind may land.
func rotSpans(t *testing.T, f *fixture) map[string][]rotSpan {
	t.Helper()
	ctx := context.Background()
	spans := map[string][]rotSpan{}
	err := filepath.WalkDir(f.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil || fi.Size() == 0 {
			return err
		}
		rel, _ := filepath.Rel(f.dir, path)
		switch top, _, _ := strings.Cut(rel, "/"); top {
		case "packs":
			foot := footerStart(t, path, fi.Size())
			spans[kindPackData] = append(spans[kindPackData], rotSpan{rel, 0, foot, false})
			spans[kindFooter] = append(spans[kindFooter], rotSpan{rel, foot, fi.Size(), false})
			spans[kindNoIndex] = append(spans[kindNoIndex], rotSpan{rel, foot, fi.Size(), false})
		case "records":
			spans[kindRecord] = append(spans[kindRecord], rotSpan{rel, 0, fi.Size(), false})
		case "index":
			k := indexFileKind(d.Name())
			live, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "marker.manifest.*."+d.Name()))
			spans[k] = append(spans[k], rotSpan{rel, 0, fi.Size(), k == kindManifest && len(live) == 0})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	vgs, err := f.cat.ListVGs(ctx)
	if err != nil || len(vgs) != 1 {
		t.Fatalf("list vgs: %v %v", vgs, err)
	}
	snaps, err := f.cat.ListSnapshots(ctx, vgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[blob.ID]bool{}
	for _, s := range snaps {
		for _, v := range s.Volumes {
			m, err := volume.LoadManifest(ctx, f.store, v.Manifest)
			if err != nil {
				t.Fatal(err)
			}
			ids := []blob.ID{m.ID}
			for _, p := range m.Pages {
				ids = append(ids, p.ID)
			}
			for _, id := range ids {
				if seen[id] {
					continue
				}
				seen[id] = true
				loc, err := f.store.Lookup(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				pack := filepath.Join("packs", loc.Pack[:2], loc.Pack+".pack")
				spans[kindPage] = append(spans[kindPage], rotSpan{pack, loc.Offset, loc.Offset + int64(loc.Stored), false})
			}
		}
	}
	for _, k := range rotKinds {
		if len(spans[k]) == 0 {
			t.Fatalf("no %s to flip bits in", k)
		}
	}
	return spans
}

// footerStart returns where a pack's footer begins, from its trailer.
func footerStart(t *testing.T, path string, size int64) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tr [40]byte // the trailer: footer length, hash, magic
	if _, err := f.ReadAt(tr[:], size-int64(len(tr))); err != nil {
		t.Fatal(err)
	}
	return size - int64(len(tr)) - int64(binary.LittleEndian.Uint32(tr[:]))
}

// copyTree copies the store at src to dst, file by file.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o750)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
