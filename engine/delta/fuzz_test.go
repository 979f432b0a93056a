package delta

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeebo/blake3"
)

// TestTestdata re-reads the small real deltas the fuzz targets start from:
// one single file and one split directory (engine/replica's
// TestWriteTestdata writes them with -update), and the same written by
// format version 2.
func TestTestdata(t *testing.T) {
	single, split := filepath.Join("testdata", "single.vmdelta"), filepath.Join("testdata", "split")
	// The v2- files were written by format version 2 (BLAKE3 frame hashes)
	// and must stay readable.
	v2single, v2split := filepath.Join("testdata", "v2-single.vmdelta"), filepath.Join("testdata", "v2-split")
	for _, p := range []string{single, split, v2single, v2split} {
		rd, err := Open(context.Background(), p)
		if err != nil {
			t.Fatalf("%s (run engine/replica TestWriteTestdata with -update to write it): %v", p, err)
		}
		n := 0
		if err := rd.Walk(context.Background(), true, func(*Record) error { n++; return nil }); err != nil || n < 3 {
			t.Fatalf("%s: %d records, %v", p, n, err)
		}
	}
}

// parse opens path and walks every record with data, as apply would.
func parse(path string) error {
	rd, err := Open(context.Background(), path)
	if err != nil {
		return err
	}
	return rd.Walk(context.Background(), true, func(r *Record) error {
		if r.Kind == KindData && int64(len(r.Data)) != r.Len {
			panic("data record decoded to the wrong length")
		}
		return nil
	})
}

// reseal rewrites the trailer so that it matches the bytes before it, so
// mutations reach the header and record parsers instead of stopping at
// the checksum.
func reseal(b []byte) []byte {
	if len(b) < trailerLen {
		return b
	}
	b = append([]byte(nil), b...)
	n := len(b) - trailerLen
	sum := blake3.Sum256(b[:n])
	copy(b[n:], trailMagic)
	copy(b[n+4:], sum[:])
	return b
}

func addSeeds(f *testing.F, paths ...string) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatalf("%v (run engine/replica TestWriteTestdata with -update)", err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
}

// FuzzParse feeds arbitrary bytes to Open and Walk as a single delta file.
// It must return an error or records, never panic or allocate past the
// format's bounds.
func FuzzParse(f *testing.F) {
	parts, _ := filepath.Glob(filepath.Join("testdata", "*split", "*.vmdp"))
	addSeeds(f, append([]string{filepath.Join("testdata", "single.vmdelta"), filepath.Join("testdata", "v2-single.vmdelta")}, parts...)...)
	// A version 4 file with a target copy record.
	addSeeds(f, writeTargetCopyDelta(f, f.TempDir()))
	f.Fuzz(func(t *testing.T, b []byte, resealed bool) {
		if resealed {
			b = reseal(b)
		}
		path := filepath.Join(t.TempDir(), "d.vmdelta")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		parse(path)
	})
}

// FuzzSplitIndex feeds arbitrary bytes as the index of a split delta whose
// directory holds the real parts from testdata.
func FuzzSplitIndex(f *testing.F) {
	dir := filepath.Join("testdata", "split")
	addSeeds(f, filepath.Join(dir, IndexName))
	parts, _ := filepath.Glob(filepath.Join(dir, "*.vmdp"))
	for i, p := range parts {
		abs, err := filepath.Abs(p)
		if err != nil {
			f.Fatal(err)
		}
		parts[i] = abs
	}
	f.Fuzz(func(t *testing.T, b []byte, resealed bool) {
		if resealed {
			b = reseal(b)
		}
		tmp := t.TempDir()
		for _, p := range parts {
			if err := os.Symlink(p, filepath.Join(tmp, filepath.Base(p))); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(tmp, IndexName), b, 0o644); err != nil {
			t.Fatal(err)
		}
		parse(tmp)
	})
}
