package cas

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// A store configured for s2 stores compressible blobs in s2 form, keeps
// random ones raw, reads both back verified, and keeps them through a sweep,
// an index rebuild and a reopen.
func TestS2Store(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Compression = "s2"
	cfg.PackSize = 1 << 20
	if err := Init(ctx, dir, cfg); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, dir)
	r := rand.New(rand.NewPCG(9, 9))
	text, random := compressibleBlob(r, 64<<10), randomBlob(r, 64<<10)
	idText, idRandom := mustPut(t, s, text), mustPut(t, s, random)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loc, _ := s.Lookup(ctx, idText)
	if !loc.S2 || !loc.Compressed || loc.Stored >= loc.Raw {
		t.Fatalf("compressible blob: %+v, want s2 and smaller", loc)
	}
	if loc, _ := s.Lookup(ctx, idRandom); loc.Compressed || loc.Stored != loc.Raw {
		t.Fatalf("random blob: %+v, want raw", loc)
	}
	mustGet(t, s, idText, text)
	mustGet(t, s, idRandom, random)

	if _, err := s.Sweep(ctx, func(id blob.ID) bool { return id == idText }, SweepOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.RebuildIndex(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTestStore(t, dir)
	mustGet(t, s, idText, text)
	rep, err := s.Verify(ctx, VerifyOptions{ReadData: true})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %v %v", rep.Problems, err)
	}

	// Damaged s2 data is an error naming the blob, never wrong bytes.
	loc, _ = s.Lookup(ctx, idText)
	s.Close()
	testdisk.FlipByte(t, filepath.Join(dir, "packs", loc.Pack[:2], loc.Pack+".pack"), loc.Offset+int64(loc.Stored)/2)
	s = openTestStore(t, dir)
	_, err = s.Get(ctx, idText, nil)
	var be *blob.Error
	if !errors.As(err, &be) || be.ID != idText || !errors.Is(err, blob.ErrCorrupt) {
		t.Fatalf("Get of damaged s2 blob: %v", err)
	}
}
