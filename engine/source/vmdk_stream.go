package source

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zlib"
)

// grainBufs holds scratch buffers for compressed grains; sizes vary with the
// image's grain size, so a buffer too small is dropped rather than reused.
var grainBufs sync.Pool

func getBuf(n int) []byte {
	if b, ok := grainBufs.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]byte, n)
}

func putBuf(b []byte) { grainBufs.Put(&b) }

// readCompressed inflates grain g, whose marker is at sector ent, and copies
// the bytes from in on into p.
func (e *sparseExtent) readCompressed(p []byte, g, in int64, ent uint32) error {
	host := int64(ent) * vmdkSector
	// A compressed grain may exceed the raw grain a little when the data
	// does not compress; anything larger is corrupt.
	maxComp := e.grainBytes + e.grainBytes/8 + 4096
	if host+12 > e.fileSize {
		return fmt.Errorf("grain %d marker at %d beyond file end: %w", g, host, ErrCorrupt)
	}
	first := min(e.fileSize-host, 4096)
	comp := getBuf(int(first))
	defer func() { putBuf(comp) }()
	if err := e.readHost(comp, host); err != nil {
		return err
	}
	lba, size := le64(comp), int64(le32(comp[8:]))
	if lba != uint64(g*e.grainBytes/vmdkSector) {
		return fmt.Errorf("grain %d marker names sector %d: %w", g, lba, ErrCorrupt)
	}
	if size == 0 || size > maxComp || host+12+size > e.fileSize {
		return fmt.Errorf("grain %d compressed size %d out of range: %w", g, size, ErrCorrupt)
	}
	if 12+size > int64(len(comp)) {
		more := getBuf(int(12 + size))
		copy(more, comp)
		putBuf(comp)
		comp = more
		if err := e.readHost(comp[first:], host+first); err != nil {
			return err
		}
	}
	out := getBuf(int(e.grainBytes))
	defer putBuf(out)
	n, err := inflate(out, comp[12:12+size])
	if err != nil {
		return fmt.Errorf("inflate grain %d at %d: %w: %w", g, host, ErrCorrupt, err)
	}
	// The last grain of a disk may be stored short.
	clear(out[n:])
	copy(p, out[in:])
	return nil
}

// inflate decodes a zlib stream (what qemu and VMware write) or, failing
// its header check, raw deflate, into out; it returns the bytes produced.
func inflate(out, comp []byte) (int, error) {
	var r io.ReadCloser
	var err error
	if len(comp) >= 2 && (uint16(comp[0])<<8|uint16(comp[1]))%31 == 0 && comp[0]&0x0f == 8 {
		r, err = zlib.NewReader(bytes.NewReader(comp))
		if err != nil {
			return 0, err
		}
	} else {
		r = flate.NewReader(bytes.NewReader(comp))
	}
	defer r.Close()
	n, err := io.ReadFull(r, out)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return n, nil
	}
	if err != nil {
		return n, err
	}
	// More data than a grain holds means the stream is not this grain.
	var one [1]byte
	if k, _ := r.Read(one[:]); k > 0 {
		return n, fmt.Errorf("grain inflates past %d bytes", len(out))
	}
	return n, nil
}
