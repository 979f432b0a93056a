package s3backend_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

// writeImage writes a raw image of random, repeated and zero runs whose
// size is not a multiple of 4 KiB.
func writeImage(t *testing.T, path string) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var img []byte
	block := make([]byte, 1<<20)
	for i := range 20 {
		switch i % 4 {
		case 0, 1:
			for j := range block {
				block[j] = byte(rng.Uint32())
			}
			img = append(img, block...)
		case 2:
			img = append(img, make([]byte, 1<<20)...) // a hole
		case 3:
			img = append(img, img[:1<<20]...) // deduplicated
		}
	}
	img = append(img, bytes.Repeat([]byte("tail"), 777)...)
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestIngestRestoreAcrossDirectories ingests an image into a store whose
// packs and records are in the bucket, then restores it bit-identical
// through a second store directory that only knows the bucket.
func TestIngestRestoreAcrossDirectories(t *testing.T) {
	ctx := context.Background()
	srv := startMinIO(t)
	srv.Prefix = "e2e"
	imgPath := filepath.Join(t.TempDir(), "disk.raw")
	img := writeImage(t, imgPath)

	dirA := t.TempDir()
	scfg := cas.DefaultConfig()
	scfg.PackSize = 4 << 20
	if err := cas.InitBackend(ctx, dirA, scfg, newBackend(t, srv)); err != nil {
		t.Fatal(err)
	}
	a, err := cas.Open(ctx, dirA, cas.Options{Backend: newBackend(t, srv)})
	if err != nil {
		t.Fatal(err)
	}
	k := a.Config().Chunker
	cutter, err := chunker.NewCutter(chunker.Params{Min: k.Min, Avg: k.Avg, Max: k.Max})
	if err != nil {
		t.Fatal(err)
	}
	src, err := source.Open(ctx, imgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ingest.Volume(ctx, a, src, ingest.Options{Cutter: cutter})
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The snapshot record goes last, after its packs and their index.
	if err := a.PutRecord(ctx, cas.RecordSnapshot, "vg-e2e.1", st.ID[:]); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dirA, "packs")); len(ents) != 0 {
		t.Fatalf("store directory holds %d pack entries; packs belong in the bucket", len(ents))
	}

	dirB := t.TempDir()
	b, err := cas.Open(ctx, dirB, cas.Options{Backend: newBackend(t, srv)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec, err := b.GetRecord(ctx, cas.RecordSnapshot, "vg-e2e.1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := volume.LoadManifest(ctx, b, cas.ID(rec))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "restored.raw")
	if _, err := restore.ToPath(ctx, b, m, out, restore.Options{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(img) || sha256.Sum256(got) != sha256.Sum256(img) {
		t.Fatalf("restored image (%d bytes) differs from the original (%d bytes)", len(got), len(img))
	}
	rep, err := b.Verify(ctx, cas.VerifyOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 || rep.Packs < 2 {
		t.Fatalf("verify through the second directory: %d packs, problems %+v", rep.Packs, rep.Problems)
	}
}
