package cas

import (
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

var update = flag.Bool("update", false, "rewrite the testdata seed files")

// seedPack is a small valid pack body (no store check) for the fuzz seeds.
func seedPack() []byte {
	var sid [16]byte
	b := encodePackHeader(sid)
	data := []byte("hello, pack")
	id := blob.Sum(data)
	hdr := make([]byte, blobHeaderSize)
	putBlobHeader(hdr, blob.Chunk, 0, uint32(len(data)), uint32(len(data)), id)
	b = append(append(b, hdr...), data...)
	footer, _ := encodeFooter([]PackEntry{{ID: id, Type: blob.Chunk, Offset: packHeaderSize + blobHeaderSize,
		Stored: uint32(len(data)), Raw: uint32(len(data))}})
	return append(b, footer...)
}

func seedFile(t testing.TB, name string, make func() []byte) []byte {
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, make(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	return b
}

// decodePackBytes runs the footer decoders over a whole pack image.
func decodePackBytes(b []byte) (PackFooter, error) {
	size := int64(len(b))
	if size < packHeaderSize+4+trailerSize {
		return PackFooter{}, errShort
	}
	if _, err := decodePackHeader(b); err != nil {
		return PackFooter{}, err
	}
	n, h, err := decodeTrailer(b[size-trailerSize:], size)
	if err != nil {
		return PackFooter{}, err
	}
	return decodeFooter(b[size-trailerSize-int64(n):size-trailerSize], h, size)
}

var errShort = errors.New("short pack")

func TestSeedsDecode(t *testing.T) {
	f, err := decodePackBytes(seedFile(t, "pack.seed", seedPack))
	if err != nil || len(f.Entries) != 1 {
		t.Fatalf("pack seed: %+v, %v", f, err)
	}
	d, err := decodeRecord(seedFile(t, "record.seed", func() []byte { return encodeRecord(blob.RecordVG, []byte(`{"name":"web"}`)) }), blob.RecordVG)
	if err != nil || string(d) != `{"name":"web"}` {
		t.Fatalf("record seed: %q, %v", d, err)
	}
}

func FuzzPackFooter(f *testing.F) {
	f.Add(seedFile(f, "pack.seed", seedPack))
	f.Add([]byte("VMRP"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ft, err := decodePackBytes(b)
		if err != nil {
			return
		}
		dataEnd := uint64(len(b)) - trailerSize - uint64(4+len(ft.Entries)*footerEntrySize)
		for _, e := range ft.Entries {
			if e.Offset+uint64(e.Stored) > dataEnd || e.Raw > blob.MaxSize {
				t.Fatalf("entry %+v escapes the pack", e)
			}
		}
		// Re-encoding an accepted footer gives the same bytes.
		enc, _ := encodeFooter(ft.Entries)
		if got := enc[len(enc)-trailerSize:]; string(got) != string(b[len(b)-trailerSize:]) {
			t.Fatal("footer does not round-trip")
		}
	})
}

func FuzzRecord(f *testing.F) {
	f.Add(seedFile(f, "record.seed", func() []byte { return encodeRecord(blob.RecordVG, []byte(`{"name":"web"}`)) }))
	f.Add(make([]byte, recordHeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeRecord(b, blob.RecordVG)
		if err != nil {
			return
		}
		if len(d) != int(binary.LittleEndian.Uint32(b[8:])) || string(encodeRecord(blob.RecordVG, d)) != string(b) {
			t.Fatal("record does not round-trip")
		}
	})
}
