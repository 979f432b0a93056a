package source

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// vhdxSpec describes a VHDX for writeVHDX; qemu-img cannot make
// differencing VHDX files, so the tests build them from the spec.
type vhdxSpec struct {
	size      int64
	blockSize int64
	parent    map[string]string // locator entries; nil for a dynamic disk
	full      map[int64][]byte  // payload block -> data (FULLY_PRESENT)
	partial   map[int64][]byte  // payload block -> data, bitmap bits from own
	own       func(sector int64) bool
	zero      []int64
	logGUID   guid
	dataWrite guid
}

func writeVHDX(t *testing.T, path string, s vhdxSpec) {
	t.Helper()
	const mib = 1 << 20
	le := binary.LittleEndian
	buf := make([]byte, 3*mib)
	copy(buf, "vhdxfile")
	for i, off := range []int{64 << 10, 128 << 10} {
		h := buf[off : off+4096]
		copy(h, "head")
		le.PutUint64(h[8:], uint64(i+1))
		copy(h[32:48], s.dataWrite[:])
		copy(h[48:64], s.logGUID[:])
		le.PutUint16(h[66:], 1)
		le.PutUint32(h[68:], mib)
		le.PutUint64(h[72:], mib)
		le.PutUint32(h[4:], crc32.Checksum(h, castagnoli))
	}
	for _, off := range []int{192 << 10, 256 << 10} {
		r := buf[off : off+64<<10]
		copy(r, "regi")
		le.PutUint32(r[8:], 2)
		copy(r[16:], guidBATRegion[:])
		le.PutUint64(r[32:], 2*mib)
		le.PutUint32(r[40:], mib)
		copy(r[48:], guidMetaRegion[:])
		le.PutUint64(r[64:], mib)
		le.PutUint32(r[72:], mib)
		le.PutUint32(r[76:], 1)
		le.PutUint32(r[4:], crc32.Checksum(r, castagnoli))
	}
	// Metadata: table, then items from 64 KiB on.
	md := buf[mib : 2*mib]
	copy(md, "metadata")
	var flags uint32
	if s.parent != nil {
		flags = 2
	}
	items := [][2][]byte{
		{guidFileParams[:], le.AppendUint32(le.AppendUint32(nil, uint32(s.blockSize)), flags)},
		{guidDiskSize[:], le.AppendUint64(nil, uint64(s.size))},
		{guidLogicalSector[:], le.AppendUint32(nil, 512)},
	}
	if s.parent != nil {
		items = append(items, [2][]byte{guidParentLocator[:], parentLocator(s.parent)})
	}
	le.PutUint16(md[10:], uint16(len(items)))
	at := 64 << 10
	for i, it := range items {
		e := md[32+i*32:]
		copy(e, it[0])
		le.PutUint32(e[16:], uint32(at))
		le.PutUint32(e[20:], uint32(len(it[1])))
		le.PutUint32(e[24:], 4) // required
		at += copy(md[at:], it[1])
	}
	// BAT, then blocks from 3 MiB on.
	ratio := (int64(1) << 23) * 512 / s.blockSize
	bat := make([]byte, mib) // copied in at the end: buf grows
	next := int64(3)
	place := func(i int64, state uint64, data []byte) {
		le.PutUint64(bat[i*8:], state|uint64(next)<<20)
		buf = append(buf, data...)
		buf = append(buf, make([]byte, (mib-int64(len(buf))%mib)%mib)...)
		next = int64(len(buf)) / mib
	}
	for blk, d := range s.full {
		place(blk+blk/ratio, vhdxFull, d)
	}
	if len(s.partial) > 0 {
		bm := make([]byte, mib)
		for blk, d := range s.partial {
			for sec := range s.blockSize / 512 {
				if s.own(blk*s.blockSize/512 + sec) {
					n := blk*s.blockSize/512 + sec
					bm[n/8] |= 1 << (n % 8)
				}
			}
			place(blk+blk/ratio, vhdxPartial, d)
		}
		place(ratio, vhdxPartial, bm)
	}
	for _, blk := range s.zero {
		le.PutUint64(bat[(blk+blk/ratio)*8:], vhdxZero)
	}
	copy(buf[2*mib:], bat)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func parentLocator(kv map[string]string) []byte {
	le := binary.LittleEndian
	hdr := append([]byte{}, guidVHDXParentType[:]...)
	hdr = le.AppendUint16(hdr, 0)
	hdr = le.AppendUint16(hdr, uint16(len(kv)))
	var data []byte
	base := 20 + 12*len(kv)
	for k, v := range kv {
		kb, vb := utf16Bytes(k), utf16Bytes(v)
		hdr = le.AppendUint32(hdr, uint32(base+len(data)))
		hdr = le.AppendUint32(hdr, uint32(base+len(data)+len(kb)))
		hdr = le.AppendUint16(hdr, uint16(len(kb)))
		hdr = le.AppendUint16(hdr, uint16(len(vb)))
		data = append(append(data, kb...), vb...)
	}
	return append(hdr, data...)
}

func utf16Bytes(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func fill(n int64, v byte) []byte { return bytes.Repeat([]byte{v}, int(n)) }

// TestVHDXDifferencing builds a child over a qemu-made dynamic parent with
// full, partially present (sector bitmap), zero and inherited blocks.
func TestVHDXDifferencing(t *testing.T) {
	requireTool(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	const size, bs = 8 << 20, 1 << 20
	run(t, dir, "qemu-img", "create", "-q", "-f", "vhdx", "-o", "subformat=dynamic,block_size=1M", "parent.vhdx", "8M")
	run(t, dir, "qemu-io", "-f", "vhdx", "-c", "write -P 0x11 0 3M", "-c", "write -P 0x22 5M 512k", "parent.vhdx")
	parentRaw := qemuRaw(t, filepath.Join(dir, "parent.vhdx"))
	pr, err := Open(context.Background(), filepath.Join(dir, "parent.vhdx"))
	if err != nil {
		t.Fatal(err)
	}
	link := "{" + pr.(*vhdxReader).dataWrite.String() + "}"
	pr.Close()

	own := func(sec int64) bool { return (sec/7)%2 == 0 }
	spec := vhdxSpec{
		size: size, blockSize: bs,
		parent:  map[string]string{"parent_linkage": link, "relative_path": `.\parent.vhdx`, "absolute_win32_path": `C:\vms\parent.vhdx`},
		full:    map[int64][]byte{1: fill(bs, 0xaa), 6: fill(bs, 0xbb), 7: fill(bs, 0xcc)},
		partial: map[int64][]byte{2: fill(bs, 0xdd)},
		own:     own,
		zero:    []int64{0},
	}
	want := append([]byte{}, parentRaw...)
	copy(want[0:bs], make([]byte, bs))
	for blk, d := range spec.full {
		copy(want[blk*bs:], d)
	}
	for sec := int64(2 * bs / 512); sec < 3*bs/512; sec++ {
		if own(sec) {
			copy(want[sec*512:(sec+1)*512], fill(512, 0xdd))
		}
	}
	child := filepath.Join(dir, "child.vhdx")
	writeVHDX(t, child, spec)
	r, err := Open(context.Background(), child)
	if err != nil {
		t.Fatalf("Open child: %v", err)
	}
	defer r.Close()
	if r.Size() != size {
		t.Fatalf("Size = %d", r.Size())
	}
	for _, bufSize := range []int{4 << 20, 1000, 1 << 20} {
		if i := firstDiff(readAll(t, r, bufSize), want); i >= 0 {
			got := readAll(t, r, bufSize)
			t.Fatalf("buffer %d: content differs at byte %d: got %x want %x", bufSize, i, got[i:i+4], want[i:i+4])
		}
	}
	checkAllocated(t, r, want)
	checkRandomReads(t, r, want)

	t.Run("parent linkage mismatch", func(t *testing.T) {
		bad := spec
		bad.parent = map[string]string{"parent_linkage": "{00000000-0000-0000-0000-000000000001}", "relative_path": "parent.vhdx"}
		p := filepath.Join(dir, "bad.vhdx")
		writeVHDX(t, p, bad)
		if _, err := Open(context.Background(), p); err == nil || !strings.Contains(err.Error(), "changed since") {
			t.Fatalf("Open = %v, want a linkage error", err)
		}
	})
	t.Run("parent missing", func(t *testing.T) {
		bad := spec
		bad.parent = map[string]string{"relative_path": "gone.vhdx"}
		p := filepath.Join(dir, "orphan.vhdx")
		writeVHDX(t, p, bad)
		if _, err := Open(context.Background(), p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Open = %v, want not exist", err)
		}
	})
	t.Run("unreplayed log", func(t *testing.T) {
		bad := vhdxSpec{size: size, blockSize: bs, logGUID: guid{1}}
		p := filepath.Join(dir, "log.vhdx")
		writeVHDX(t, p, bad)
		if _, err := Open(context.Background(), p); !errors.Is(err, ErrVHDXLog) {
			t.Fatalf("Open = %v, want ErrVHDXLog", err)
		}
	})
}
