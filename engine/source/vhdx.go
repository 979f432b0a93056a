package source

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
)

const (
	vhdxMaxRegion = 64 << 20 // bytes of BAT or metadata read at open

	vhdxNotPresent = 0
	vhdxUndefined  = 1
	vhdxZero       = 2
	vhdxUnmapped   = 3
	vhdxFull       = 6
	vhdxPartial    = 7 // also SB_BLOCK_PRESENT for sector bitmap entries
)

// ErrVHDXLog is returned for a VHDX whose log must be replayed before its
// metadata can be trusted.
var ErrVHDXLog = errors.New("vhdx has an unreplayed log; open it once with qemu-img or Hyper-V")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// vhdxReader decodes a fixed, dynamic or differencing VHDX.
type vhdxReader struct {
	f          *os.File
	name       string
	fileSize   int64
	meta       vhdxMeta
	size       int64
	blockSize  int64
	chunkRatio int64
	bat        []uint64
	dataWrite  guid
	parent     Reader // differencing disks only

	mu      sync.Mutex
	bitmaps map[int64][]byte // sector bitmaps by chunk, loaded on demand
}

func openVHDX(ctx context.Context, f *os.File, fileSize int64, depth int) (Reader, error) {
	v := &vhdxReader{f: f, name: f.Name(), fileSize: fileSize, bitmaps: map[int64][]byte{}}
	if fileSize < 320<<10 {
		return nil, fmt.Errorf("vhdx of %d bytes shorter than its headers: %w", fileSize, ErrCorrupt)
	}
	if err := v.readHeaders(); err != nil {
		return nil, err
	}
	bat, meta, err := v.readRegions()
	if err != nil {
		return nil, err
	}
	mb, err := v.readRegion(meta, "metadata")
	if err != nil {
		return nil, err
	}
	if v.meta, err = parseVHDXMeta(mb); err != nil {
		return nil, err
	}
	v.size = int64(v.meta.diskSize)
	v.blockSize = int64(v.meta.blockSize)
	v.chunkRatio = (1 << 23) * int64(v.meta.sectorSize) / v.blockSize
	if err := v.loadBAT(bat); err != nil {
		return nil, err
	}
	if v.meta.hasParent {
		if err := v.openParent(ctx, depth); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// readHeaders picks the valid header with the higher sequence number.
func (v *vhdxReader) readHeaders() error {
	sig := make([]byte, 8)
	if err := readFull(v.f, sig, 0, "vhdx file identifier"); err != nil || string(sig) != "vhdxfile" {
		return fmt.Errorf("vhdx file identifier missing: %w", ErrCorrupt)
	}
	var best []byte
	for _, off := range []int64{64 << 10, 128 << 10} {
		h := make([]byte, 4096)
		if err := readFull(v.f, h, off, "vhdx header"); err != nil {
			return err
		}
		if string(h[:4]) != "head" || !crcOK(h, 4) || le16(h[66:]) != 1 {
			continue
		}
		if best == nil || le64(h[8:]) > le64(best[8:]) {
			best = h
		}
	}
	if best == nil {
		return fmt.Errorf("vhdx: no valid header: %w", ErrCorrupt)
	}
	if guid(best[48:64]) != (guid{}) {
		return ErrVHDXLog
	}
	copy(v.dataWrite[:], best[32:48])
	return nil
}

// crcOK checks a CRC-32C stored at b[at:at+4], computed with that field zero.
func crcOK(b []byte, at int) bool {
	want := le32(b[at:])
	c := crc32.Update(0, castagnoli, b[:at])
	c = crc32.Update(c, castagnoli, make([]byte, 4))
	c = crc32.Update(c, castagnoli, b[at+4:])
	return c == want
}

type vhdxRegion struct{ off, length uint64 }

func (v *vhdxReader) readRegions() (bat, meta vhdxRegion, err error) {
	for _, off := range []int64{192 << 10, 256 << 10} {
		t := make([]byte, 64<<10)
		if err := readFull(v.f, t, off, "vhdx region table"); err != nil {
			return bat, meta, err
		}
		if string(t[:4]) != "regi" || !crcOK(t, 4) {
			continue
		}
		n := int(le32(t[8:]))
		if n > 2047 {
			return bat, meta, fmt.Errorf("vhdx region table: %d entries: %w", n, ErrCorrupt)
		}
		for i := range n {
			e := t[16+i*32:]
			r := vhdxRegion{off: le64(e[16:]), length: uint64(le32(e[24:]))}
			switch guid(e[:16]) {
			case guidBATRegion:
				bat = r
			case guidMetaRegion:
				meta = r
			default:
				if le32(e[28:])&1 != 0 {
					return bat, meta, fmt.Errorf("vhdx required region %v: %w", guid(e[:16]), ErrUnsupported)
				}
			}
		}
		if bat.length == 0 || meta.length == 0 {
			return bat, meta, fmt.Errorf("vhdx region table lacks the BAT or metadata: %w", ErrCorrupt)
		}
		return bat, meta, nil
	}
	return bat, meta, fmt.Errorf("vhdx: no valid region table: %w", ErrCorrupt)
}

func (v *vhdxReader) readRegion(r vhdxRegion, what string) ([]byte, error) {
	if r.length > vhdxMaxRegion || r.off > uint64(v.fileSize) || r.length > uint64(v.fileSize)-r.off {
		return nil, fmt.Errorf("vhdx %s region (%d bytes at %d) beyond file end %d: %w", what, r.length, r.off, v.fileSize, ErrCorrupt)
	}
	b := make([]byte, r.length)
	if err := readFull(v.f, b, int64(r.off), "vhdx "+what); err != nil {
		return nil, err
	}
	return b, nil
}

// loadBAT reads the block allocation table and checks every present block
// lies inside the file, so reads need not.
func (v *vhdxReader) loadBAT(r vhdxRegion) error {
	blocks := (v.size + v.blockSize - 1) / v.blockSize
	var entries int64
	switch {
	case v.meta.hasParent:
		entries = (blocks + v.chunkRatio - 1) / v.chunkRatio * (v.chunkRatio + 1)
	case blocks > 0:
		entries = blocks + (blocks-1)/v.chunkRatio
	}
	if uint64(entries)*8 > r.length {
		return fmt.Errorf("vhdx BAT needs %d entries, region holds %d: %w", entries, r.length/8, ErrCorrupt)
	}
	b, err := v.readRegion(vhdxRegion{off: r.off, length: uint64(entries) * 8}, "BAT")
	if err != nil {
		return err
	}
	v.bat = make([]uint64, entries)
	for i := range v.bat {
		v.bat[i] = le64(b[i*8:])
	}
	for blk := int64(0); blk < blocks; blk++ {
		e := v.bat[blk+blk/v.chunkRatio]
		switch e & 7 {
		case vhdxFull, vhdxPartial:
			if e&7 == vhdxPartial && !v.meta.hasParent {
				return fmt.Errorf("vhdx block %d partially present without a parent: %w", blk, ErrCorrupt)
			}
			n := min(v.blockSize, v.size-blk*v.blockSize)
			if off := int64(e >> 20); off > v.fileSize>>20 || off<<20 > v.fileSize-n {
				return fmt.Errorf("vhdx block %d at %d MiB beyond file end %d: %w", blk, off, v.fileSize, ErrCorrupt)
			}
		case vhdxNotPresent, vhdxUndefined, vhdxZero, vhdxUnmapped:
		default:
			return fmt.Errorf("vhdx block %d state %d: %w", blk, e&7, ErrCorrupt)
		}
	}
	return nil
}

func (v *vhdxReader) Size() int64    { return v.size }
func (v *vhdxReader) Format() string { return "vhdx" }

func (v *vhdxReader) Close() error {
	err := v.f.Close()
	if v.parent != nil {
		if perr := v.parent.Close(); err == nil {
			err = perr
		}
	}
	return err
}

func (v *vhdxReader) ReadAt(p []byte, off int64) (int, error) {
	n, clipErr := clipRead(p, off, v.size)
	for done := 0; done < n; {
		pos := off + int64(done)
		k, err := v.readBlock(p[done:n], pos)
		if err != nil {
			return done, fmt.Errorf("vhdx %q at %d: %w", v.name, pos, err)
		}
		done += k
	}
	return n, clipErr
}

// readBlock fills the start of p from the block holding off, going on into
// following blocks stored contiguously; it returns the bytes filled.
func (v *vhdxReader) readBlock(p []byte, off int64) (int, error) {
	blk, in := off/v.blockSize, off%v.blockSize
	n := min(int64(len(p)), v.blockSize-in)
	e := v.bat[blk+blk/v.chunkRatio]
	switch e & 7 {
	case vhdxFull:
		// Blocks stored back to back are read with one call.
		host := int64(e>>20)<<20 + in
		end := in + n
		for end < in+int64(len(p)) {
			nb := blk + end/v.blockSize
			ne := v.bat[nb+nb/v.chunkRatio]
			if ne&7 != vhdxFull || int64(ne>>20)<<20 != int64(e>>20)<<20+(nb-blk)*v.blockSize {
				break
			}
			end = min(in+int64(len(p)), end+v.blockSize)
		}
		n = end - in
		return int(n), readExact(v.f, p[:n], host)
	case vhdxPartial:
		return int(n), v.readPartial(p[:n], off, e)
	case vhdxNotPresent, vhdxUndefined:
		if v.parent != nil {
			return int(n), v.readParent(p[:n], off)
		}
	}
	clear(p[:n])
	return int(n), nil
}

func readExact(f *os.File, p []byte, off int64) error {
	k, err := f.ReadAt(p, off)
	if k == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d bytes at %d: %w", len(p), off, err)
}

// readParent reads from the parent; a parent smaller than the child reads
// as zeros past its end.
func (v *vhdxReader) readParent(p []byte, off int64) error {
	k, err := v.parent.ReadAt(p, off)
	if k == len(p) {
		return nil
	}
	if err == io.EOF {
		clear(p[k:])
		return nil
	}
	return fmt.Errorf("parent: %w", err)
}
