package cas

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// packPath returns the file of the pack holding id.
func packPath(t *testing.T, s *Store, id blob.ID) (string, Location) {
	t.Helper()
	loc, err := s.Lookup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(s.Dir(), "packs", loc.Pack[:2], loc.Pack+".pack"), loc
}

func TestCorruptBlob(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(11, 12))
	tests := []struct {
		name string
		data []byte
	}{
		{"raw", randomBlob(r, 20000)},
		{"zstd", compressibleBlob(r, 20000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestStore(t, 1<<20)
			otherData := randomBlob(r, 3000)
			other := mustPut(t, s, otherData)
			id := mustPut(t, s, tc.data)
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			path, loc := packPath(t, s, id)
			testdisk.FlipByte(t, path, loc.Offset+int64(loc.Stored)/2)

			_, err := s.Get(ctx, id, nil)
			var be *blob.Error
			if !errors.As(err, &be) || !errors.Is(err, blob.ErrCorrupt) || be.ID != id || be.Pack != loc.Pack {
				t.Fatalf("Get = %v, want blob.Error blob.ErrCorrupt for %s", err, id.Short())
			}
			if !strings.Contains(err.Error(), id.String()) || !strings.Contains(err.Error(), loc.Pack) {
				t.Fatalf("error %q does not name blob and pack", err)
			}
			mustGet(t, s, other, otherData)

			rep, err := s.Verify(ctx, VerifyOptions{})
			if err != nil || len(rep.Problems) != 0 || rep.Blobs != 2 || rep.Packs != 1 {
				t.Fatalf("structure verify = %+v, %v; want clean", rep, err)
			}
			rep, err = s.Verify(ctx, VerifyOptions{ReadData: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) != 1 || rep.Problems[0].ID != id || !errors.Is(rep.Problems[0].Err, blob.ErrCorrupt) {
				t.Fatalf("verify problems = %v, want exactly %s", rep.Problems, id.Short())
			}
			want := "chunk " + id.String() + " in pack " + loc.Pack
			if msg := rep.Problems[0].String(); !strings.HasPrefix(msg, want) {
				t.Fatalf("problem %q, want prefix %q", msg, want)
			}
		})
	}
}

func TestVerifyFooterDamage(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<20)
	id := mustPut(t, s, []byte("some blob"))
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	path, _ := packPath(t, s, id)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	testdisk.FlipByte(t, path, info.Size()-trailerSize-10) // inside the footer
	rep, err := s.Verify(ctx, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) == 0 || !strings.Contains(rep.Problems[0].String(), "footer hash mismatch") {
		t.Fatalf("verify problems = %v, want a footer hash mismatch", rep.Problems)
	}
}

func TestVerifyMissingPack(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<20)
	id := mustPut(t, s, []byte("some blob"))
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	path, loc := packPath(t, s, id)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(ctx, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Pack != loc.Pack || !strings.Contains(rep.Problems[0].String(), "missing") {
		t.Fatalf("verify problems = %v, want the missing pack", rep.Problems)
	}
}
