package cas

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

// A pack whose footer rotted must not keep the store from opening when the
// index has to be rebuilt from the packs: the pack is left out of the index
// (its blobs read as missing, never as wrong bytes) and verify names it.
func TestOpenRebuildsIndexPastDamagedPack(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 64<<10)
	blobs := fillStore(t, s)
	var packs []string
	if err := s.be.List(ctx, FilePack, func(name string, _ int64) error {
		packs = append(packs, name)
		return nil
	}); err != nil || len(packs) < 2 {
		t.Fatalf("packs %v, %v; want two or more", packs, err)
	}
	s.Close()
	bad := packs[0]
	path := filepath.Join(dir, "packs", bad[:2], bad+".pack")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	flipBit(t, path, fi.Size()-trailerSize-10, 3) // inside the footer
	if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatalf("Open with a damaged pack and no index: %v", err)
	}
	defer s.Close()
	lost := 0
	for id, b := range blobs {
		got, err := s.Get(ctx, id, nil)
		switch {
		case errors.Is(err, blob.ErrNotFound):
			lost++
		case err != nil:
			t.Fatalf("get %s: %v", id.Short(), err)
		case string(got) != string(b):
			t.Fatalf("get %s: wrong bytes", id.Short())
		}
	}
	if lost == 0 || lost == len(blobs) {
		t.Fatalf("%d of %d blobs missing, want those of pack %s only", lost, len(blobs), bad)
	}
	rep, err := s.Verify(ctx, VerifyOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Pack != bad || !strings.Contains(rep.Problems[0].String(), "footer hash mismatch") {
		t.Fatalf("verify problems %v, want one naming pack %s", rep.Problems, bad)
	}
}
