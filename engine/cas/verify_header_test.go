package cas

import (
	"context"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

// flipBit flips one bit of the file at off; flipping it again undoes it.
func flipBit(t *testing.T, path string, off int64, bit uint) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 1 << bit
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyBlobHeaderFlips flips one bit in every byte of the blob headers
// of a pack, one at a time: verify --read-data must report each flip,
// naming the pack and the header's offset, though reads do not notice.
func TestVerifyBlobHeaderFlips(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(13, 44))
	s, _ := newTestStore(t, 1<<20)
	ids := []blob.ID{mustPut(t, s, randomBlob(r, 5000)), mustPut(t, s, compressibleBlob(r, 20000))}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	flips, seen := 0, 0
	for _, id := range ids {
		path, loc := packPath(t, s, id)
		for i := range int64(blobHeaderSize) {
			at := loc.Offset - blobHeaderSize + i
			bit := uint(r.IntN(8))
			flipBit(t, path, at, bit)
			rep, err := s.Verify(ctx, VerifyOptions{ReadData: true})
			flipBit(t, path, at, bit)
			if err != nil {
				t.Fatal(err)
			}
			flips++
			for _, p := range rep.Problems {
				if p.Pack == loc.Pack && p.ID == id && strings.Contains(p.String(), "blob header at offset") {
					seen++
					break
				}
			}
		}
	}
	if seen != flips {
		t.Fatalf("verify --read-data reported %d of %d blob header flips", seen, flips)
	}
	rep, err := s.Verify(ctx, VerifyOptions{ReadData: true})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify of the undamaged store = %v, %v", rep.Problems, err)
	}
}
