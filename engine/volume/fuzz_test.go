package volume

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// addSeeds adds every file under testdata/golden, pages and top pages
// alike, so each fuzzer also starts from the other format's bytes.
func addSeeds(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "golden", "*.bin"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds under testdata/golden: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzDecodePage checks that DecodePage never panics and that whatever it
// accepts is canonical: encoding the entries gives back the same bytes.
func FuzzDecodePage(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := DecodePage(b, MaxChunkLength)
		if err != nil {
			return
		}
		if again := EncodePage(nil, entries); !bytes.Equal(again, b) {
			t.Fatalf("accepted page does not re-encode to itself:\n in %x\nout %x", b, again)
		}
	})
}

// FuzzDecodeTop checks DecodeTop the same way, and that offsets are derived
// and sum to the size.
func FuzzDecodeTop(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		size, pages, err := DecodeTop(b)
		if err != nil {
			return
		}
		var off int64
		for i, p := range pages {
			if p.Offset != off || p.Length <= 0 || p.Entries <= 0 || p.Entries > MaxPageEntries {
				t.Fatalf("page %d: %+v at %d", i, p, off)
			}
			off += p.Length
		}
		if off != size {
			t.Fatalf("pages sum to %d, size %d", off, size)
		}
		if again := EncodeTop(nil, size, pages); !bytes.Equal(again, b) {
			t.Fatalf("accepted top page does not re-encode to itself:\n in %x\nout %x", b, again)
		}
	})
}
