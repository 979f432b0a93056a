package volume

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas/castest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// goldenEntries is a small fixed manifest: chunks named by digests of short
// strings, two of them forced to end a page, and merged holes.
func goldenEntries() []Entry {
	id := func(s string, cut bool) blob.ID {
		v := blob.Sum([]byte(s))
		if cut {
			v[24], v[25] = 0, v[25]&0xf0
		} else if endsPage(v) {
			v[24] = 1
		}
		return v
	}
	return []Entry{
		{ID: id("a", false), Length: 65536},
		{Hole: true, Length: 1 << 20},
		{Hole: true, Length: 4096},
		{ID: id("b", true), Length: 16384},
		{ID: id("c", false), Length: 262144},
		{Hole: true, Length: 1},
		{ID: id("d", true), Length: 100000},
		{ID: id("e", false), Length: 7},
	}
}

// TestGoldenManifest pins the page and top page bytes so the format cannot
// drift unnoticed: manifest IDs name snapshots in stores and delta files.
func TestGoldenManifest(t *testing.T) {
	bs := castest.NewMemStore()
	info := writeManifest(t, bs, goldenEntries())
	m := loadManifest(t, bs, info.ID)
	if len(m.Pages) != 3 {
		t.Fatalf("golden manifest has %d pages, want 3", len(m.Pages))
	}
	files := map[string]blob.ID{"top.bin": info.ID}
	for i, p := range m.Pages {
		files[fmt.Sprintf("page-%d.bin", i)] = p.ID
	}
	for name, id := range files {
		got, err := bs.Get(context.Background(), id, nil)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "golden", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the golden file:\n got %x\nwant %x", name, got, want)
		}
	}
}

func validPage(t *testing.T) []byte {
	t.Helper()
	return EncodePage(nil, []Entry{
		{ID: blob.ID{24: 1, 31: 7}, Length: 100},
		{Hole: true, Length: 50},
		{ID: blob.ID{24: 0, 31: 7}, Length: 200}, // ends the page
	})
}

func TestDecodePageMalformed(t *testing.T) {
	good := validPage(t)
	if _, err := DecodePage(good, MaxChunkLength); err != nil {
		t.Fatalf("valid page refused: %v", err)
	}
	hdr := []byte("VMPG\x01")
	chunk := func(length byte, cut bool) []byte {
		b := append([]byte{entryChunk, length}, make([]byte, 32)...)
		if !cut {
			b[2+24] = 1
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad magic", cat([]byte("VMPX\x01\x01"), chunk(1, false))},
		{"bad version", cat([]byte("VMPG\x02\x01"), chunk(1, false))},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"zero count", cat(hdr, []byte{0})},
		{"count over cap", cat(hdr, binary.AppendUvarint(nil, MaxPageEntries+1), bytes.Repeat([]byte{entryHole, 1, entryChunk, 1}, MaxPageEntries))},
		{"count over bytes", cat(hdr, binary.AppendUvarint(nil, 1000), chunk(1, false))},
		{"huge count", cat(hdr, binary.AppendUvarint(nil, 1<<62))},
		{"unknown kind", cat(hdr, []byte{1, 3, 1})},
		{"zero length", cat(hdr, []byte{1, entryHole, 0})},
		{"non-minimal varint", cat(hdr, []byte{1, entryHole, 0x81, 0x00})},
		{"varint overflow", cat(hdr, []byte{1, entryHole}, bytes.Repeat([]byte{0xff}, 10), []byte{1})},
		{"length over int64", cat(hdr, []byte{1, entryHole}, binary.AppendUvarint(nil, 1<<63))},
		{"chunk over max", cat(hdr, []byte{1, entryChunk}, binary.AppendUvarint(nil, MaxChunkLength+1), make([]byte, 32))},
		{"truncated id", cat(hdr, []byte{1}, chunk(1, false)[:20])},
		{"adjacent holes", cat(hdr, []byte{2, entryHole, 1, entryHole, 1})},
		{"cut inside page", cat(hdr, []byte{2}, chunk(1, true), chunk(1, false))},
	}
	// A real overflow: two holes cannot be adjacent, so hole, chunk, hole.
	big := binary.AppendUvarint(nil, 1<<62+1<<61)
	tests = append(tests, struct {
		name string
		b    []byte
	}{"sum overflows", cat(hdr, []byte{3, entryHole}, big, chunk(1, false), []byte{entryHole}, big)})
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			_, err := DecodePage(tt.b, MaxChunkLength)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodePage: %v, want ErrMalformed", err)
			}
		})
	}
}

func TestDecodeTopMalformed(t *testing.T) {
	refs := []PageRef{{Length: 300, Entries: 3, ID: blob.ID{1}}, {Length: 50, Entries: 1, ID: blob.ID{2}}}
	good := EncodeTop(nil, 350, refs)
	size, pages, err := DecodeTop(good)
	if err != nil || size != 350 || len(pages) != 2 || pages[1].Offset != 300 {
		t.Fatalf("valid top: %d %+v %v", size, pages, err)
	}
	hdr := []byte("VMMT\x01")
	ref := func(length, entries uint64) []byte {
		b := binary.AppendUvarint(nil, length)
		b = binary.AppendUvarint(b, entries)
		return append(b, make([]byte, 32)...)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad magic", cat([]byte("VMPG\x01"), []byte{0, 0})},
		{"bad version", cat([]byte("VMMT\x00"), []byte{0, 0})},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"no count", cat(hdr, []byte{0})},
		{"count over bytes", cat(hdr, []byte{10}, binary.AppendUvarint(nil, 1<<40), ref(10, 1))},
		{"lengths short of size", cat(hdr, []byte{11, 1}, ref(10, 1))},
		{"lengths over size", cat(hdr, []byte{9, 1}, ref(10, 1))},
		{"zero length page", cat(hdr, []byte{0, 1}, ref(0, 1))},
		{"zero entries", cat(hdr, []byte{10, 1}, ref(10, 0))},
		{"entries over cap", cat(hdr, binary.AppendUvarint(nil, 1<<20), []byte{1}, ref(1<<20, MaxPageEntries+1))},
		{"entries over length", cat(hdr, []byte{10, 1}, ref(10, 11))},
		{"size over int64", cat(hdr, binary.AppendUvarint(nil, 1<<63), []byte{0})},
		{"lengths overflow", cat(hdr, binary.AppendUvarint(nil, 1<<62), []byte{2}, ref(1<<62+1<<61, 1), ref(1<<62+1<<61, 1))},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			_, _, err := DecodeTop(tt.b)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeTop: %v, want ErrMalformed", err)
			}
		})
	}
}

// TestLoadPageMismatch stores a top page whose counts disagree with the page
// it names; LoadPage must refuse it.
func TestLoadPageMismatch(t *testing.T) {
	ctx := context.Background()
	bs := castest.NewMemStore()
	page := validPage(t)
	pid := blob.Sum(page)
	if _, err := bs.Put(ctx, blob.Page, pid, page); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []PageRef{{Length: 350, Entries: 2, ID: pid}, {Length: 351, Entries: 3, ID: pid}} {
		top := EncodeTop(nil, ref.Length, []PageRef{ref})
		tid := blob.Sum(top)
		if _, err := bs.Put(ctx, blob.Page, tid, top); err != nil {
			t.Fatal(err)
		}
		m := loadManifest(t, bs, tid)
		if _, err := m.LoadPage(ctx, bs, 0, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("LoadPage with %+v: %v, want ErrMalformed", ref, err)
		}
		if err := m.Walk(ctx, bs, 0, func(int64, Entry) error { return nil }); !errors.Is(err, ErrMalformed) {
			t.Errorf("Walk with %+v: %v, want ErrMalformed", ref, err)
		}
	}
	if _, err := LoadManifest(ctx, bs, blob.Sum([]byte("absent"))); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("LoadManifest of an absent blob: %v", err)
	}
}
