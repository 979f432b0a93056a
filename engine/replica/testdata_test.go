package replica

import (
	"context"
	"flag"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/volume"
)

var update = flag.Bool("update", false, "rewrite the deltas in testdata")

// TestWriteTestdata writes (with -update) the small real deltas that
// engine/delta's fuzz targets start from: one single file and one split
// directory in its testdata.
func TestWriteTestdata(t *testing.T) {
	td := filepath.Join("..", "delta", "testdata")
	single, split := filepath.Join(td, "single.vmdelta"), filepath.Join(td, "split")
	if !*update {
		t.Skip("writes engine/delta/testdata with -update only")
	}
	ctx := context.Background()
	rng := rand.New(rand.NewSource(5))
	e := newTestEnv(t)
	a := []image{
		{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot, data: make([]byte, 192<<10)},
		{id: volume.NewVolumeID(), name: "data", role: volume.RoleData, data: make([]byte, 64<<10)},
	}
	rng.Read(a[0].data[:128<<10])
	rng.Read(a[1].data)
	b := []image{a[0], a[1]}
	b[0].data = append([]byte(nil), a[0].data...)
	rng.Read(b[0].data[8192:12288])
	clear(b[0].data[64<<10 : 96<<10])
	b[1].data = append(append([]byte(nil), a[1].data[:32<<10]...), make([]byte, 8<<10)...)
	rng.Read(b[1].data[32<<10 : 36<<10])
	sa, sb := e.snapshot(a), e.snapshot(b)
	os.RemoveAll(split)
	if _, err := build.Export(ctx, e.store, sa, sb, delta.FileSink(single), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := build.Export(ctx, e.store, sa, sb, delta.SplitSink(split, 1), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
}
