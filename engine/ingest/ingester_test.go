package ingest

import (
	"context"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

func defaultParams() blob.ChunkerParams {
	p := chunker.DefaultParams()
	return blob.ChunkerParams{Min: p.Min, Avg: p.Avg, Max: p.Max}
}

// TestIngesterCutsWithItsParams checks that an Ingester cuts as a Cutter of
// the same parameters does, and that WithChunker changes only the cut.
func TestIngesterCutsWithItsParams(t *testing.T) {
	ctx := context.Background()
	data := genVolume(3, piece{'r', 8 << 20}, piece{'z', 1 << 20}, piece{'t', 4 << 20})
	in, err := New(defaultParams(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Volume(ctx, discard{}, &memSource{data: data}, Options{Cutter: testCutter(t)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := in.Volume(ctx, discard{}, &memSource{data: data}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID {
		t.Errorf("Ingester made manifest %s, a Cutter of the same parameters %s", got.ID.Short(), want.ID.Short())
	}
	large, err := in.WithChunker(blob.ChunkerParams{Min: 256 << 10, Avg: 1 << 20, Max: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	other, err := large.Volume(ctx, discard{}, &memSource{data: data}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if other.ID == want.ID || other.Chunks >= want.Chunks {
		t.Errorf("WithChunker(larger chunks): %d chunks, manifest %s; default: %d chunks", other.Chunks, other.ID.Short(), want.Chunks)
	}
	if _, err := New(blob.ChunkerParams{Min: 10, Avg: 5, Max: 1}, nil); err == nil {
		t.Error("New took chunker parameters out of order")
	}
}

// TestIngesterOpensByPath checks that Snapshot opens volume i from paths[i]
// with the Ingester's opener, and refuses paths that do not match the VG.
func TestIngesterOpensByPath(t *testing.T) {
	ctx := context.Background()
	vg := volume.VG{ID: "vg1", Name: "web", Volumes: []volume.Volume{{ID: "a", Name: "boot"}, {ID: "b", Name: "data"}}}
	var opened []string
	in, err := New(defaultParams(), func(_ context.Context, path string) (source.Reader, error) {
		opened = append(opened, path)
		return &memSource{data: genVolume(4, piece{'r', 1 << 20})}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := in.Snapshot(ctx, discard{}, emptyCatalog{}, vg, []string{"/dev/one"}, SnapshotOptions{}); err == nil || !strings.Contains(err.Error(), "1 source paths for 2 volumes") {
		t.Fatalf("one path for two volumes: got %v", err)
	}
	if len(opened) != 0 {
		t.Fatalf("opened %v before refusing", opened)
	}
	sn, _, err := in.Snapshot(ctx, discard{}, emptyCatalog{}, vg, []string{"/dev/one", "/dev/two"}, SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sn.Volumes) != 2 || sn.Volumes[1].Size != 1<<20 {
		t.Errorf("snapshot %+v, want two volumes of 1 MiB", sn.Volumes)
	}
	if strings.Join(opened, " ") != "/dev/one /dev/two" {
		t.Errorf("opened %v, want /dev/one then /dev/two", opened)
	}
}

// emptyCatalog holds no snapshot and records nothing.
type emptyCatalog struct{}

func (emptyCatalog) ReserveSeq(context.Context, string) (uint64, error) { return 1, nil }
func (emptyCatalog) Latest(context.Context, string) (volume.Snapshot, error) {
	return volume.Snapshot{}, blob.ErrNotFound
}
func (emptyCatalog) PutSnapshot(context.Context, volume.Snapshot) error { return nil }
