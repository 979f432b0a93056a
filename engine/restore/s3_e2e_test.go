package restore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/cas/s3backend"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/testminio"
)

// bucketBackend runs a MinIO server for t, makes a bucket, and returns a
// constructor of backends on it under prefix.
func bucketBackend(t *testing.T, prefix string) func() cas.Backend {
	t.Helper()
	srv := testminio.Start(t, "")
	cfg := s3backend.Config{Endpoint: srv.Endpoint, Bucket: "vmrep-test", Prefix: prefix,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s3backend.MakeBucket(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	return func() cas.Backend {
		be, err := s3backend.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return be
	}
}

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
	newBackend := bucketBackend(t, "e2e")
	imgPath := filepath.Join(t.TempDir(), "disk.raw")
	img := writeImage(t, imgPath)

	dirA := t.TempDir()
	scfg := cas.DefaultConfig()
	scfg.PackSize = 4 << 20
	if err := cas.InitBackend(ctx, dirA, scfg, newBackend()); err != nil {
		t.Fatal(err)
	}
	a, err := cas.Open(ctx, dirA, cas.Options{Backend: newBackend()})
	if err != nil {
		t.Fatal(err)
	}
	cutter, err := ingest.NewCutter(a.Config().Chunker)
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
	if err := a.PutRecord(ctx, blob.RecordSnapshot, "vg-e2e.1", st.ID[:]); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dirA, "packs")); len(ents) != 0 {
		t.Fatalf("store directory holds %d pack entries; packs belong in the bucket", len(ents))
	}

	dirB := t.TempDir()
	b, err := cas.Open(ctx, dirB, cas.Options{Backend: newBackend()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec, err := b.GetRecord(ctx, blob.RecordSnapshot, "vg-e2e.1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := volume.LoadManifest(ctx, b, blob.ID(rec))
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
