package replica

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

// testEnv is a real store in a temp dir with small chunks, so small images
// have many chunks.
type testEnv struct {
	t     testing.TB
	dir   string
	store *cas.Store
	cut   *chunker.Cutter
	vgID  string
	seq   uint64
	last  string
}

func newTestEnv(t testing.TB) *testEnv {
	return newTestEnvChunks(t, chunker.Params{Min: 4096, Avg: 16384, Max: 65536})
}

// newTestEnvChunks is newTestEnv with other chunk sizes.
func newTestEnvChunks(t testing.TB, p chunker.Params) *testEnv {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := cas.DefaultConfig()
	cfg.Chunker = blob.ChunkerParams{Min: p.Min, Avg: p.Avg, Max: p.Max}
	if err := cas.Init(ctx, filepath.Join(dir, "store"), cfg); err != nil {
		t.Fatal(err)
	}
	s, err := cas.Open(ctx, filepath.Join(dir, "store"), cas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cut, err := chunker.NewCutter(p)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, dir: dir, store: s, cut: cut, vgID: volume.NewVGID()}
}

// image is one volume's content for a snapshot.
type image struct {
	id, name string
	role     volume.Role
	data     []byte
}

// snapshot ingests the images through real files and returns the snapshot.
func (e *testEnv) snapshot(imgs []image) volume.Snapshot {
	path := filepath.Join(e.dir, "src.img")
	return e.snapshotFrom(imgs, func(im image) string {
		if err := os.WriteFile(path, im.data, 0o644); err != nil {
			e.t.Fatal(err)
		}
		return path
	})
}

// snapshotFrom ingests the file file(im) names for each image (whose data
// may then be nil) and returns the snapshot.
func (e *testEnv) snapshotFrom(imgs []image, file func(image) string) volume.Snapshot {
	ctx := context.Background()
	e.seq++
	snap := volume.Snapshot{ID: volume.NewSnapshotID(), VGID: e.vgID, VGName: "web", Seq: e.seq, Parent: e.last}
	for _, im := range imgs {
		src, err := source.Open(ctx, file(im))
		if err != nil {
			e.t.Fatal(err)
		}
		st, err := ingest.Volume(ctx, e.store, src, ingest.Options{Cutter: e.cut})
		src.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		snap.Volumes = append(snap.Volumes, volume.VolumeSnapshot{VolumeID: im.id, Name: im.name, Role: im.role,
			Size: st.Size, Manifest: st.ID, DataBytes: st.DataBytes, Chunks: st.Chunks, Holes: st.Holes})
	}
	if err := e.store.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
	e.last = snap.ID
	return snap
}

// checkReplica compares every replica file with its image byte for byte.
func checkReplica(t testing.TB, dir string, imgs []image, seed int64) {
	t.Helper()
	for _, im := range imgs {
		got, err := os.ReadFile(VolumePath(dir, im.id))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !bytes.Equal(got, im.data) {
			t.Fatalf("seed %d: volume %s: replica (%d bytes) differs from target (%d bytes) at %d",
				seed, im.name, len(got), len(im.data), firstDiff(got, im.data))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
