package source

import (
	"context"
	"fmt"
	"io"
	"os"
)

const (
	vmdkSector     = 512
	vmdkGDAtEnd    = ^uint64(0)
	vmdkMaxGrain   = 16 << 20 // bytes; VMware and qemu use 64 KiB
	vmdkMaxGTEs    = 1 << 16
	vmdkMaxCap     = 1 << 56 // bytes
	vmdkFlagComp   = 1 << 16
	vmdkCompDeflat = 1
)

// sparseHeader is the fields of a hosted sparse extent header ("KDMV") that
// reading needs.
type sparseHeader struct {
	version     uint32
	flags       uint32
	capacity    uint64 // sectors
	grainSize   uint64 // sectors
	descOff     uint64 // sectors
	descSize    uint64 // sectors
	gtEntries   uint32
	gdOffset    uint64 // sectors
	compression uint16
}

func parseSparseHeader(b []byte) (sparseHeader, error) {
	if len(b) < 512 || string(b[:4]) != "KDMV" {
		return sparseHeader{}, fmt.Errorf("vmdk sparse header: bad magic: %w", ErrCorrupt)
	}
	h := sparseHeader{
		version:     le32(b[4:]),
		flags:       le32(b[8:]),
		capacity:    le64(b[12:]),
		grainSize:   le64(b[20:]),
		descOff:     le64(b[28:]),
		descSize:    le64(b[36:]),
		gtEntries:   le32(b[44:]),
		gdOffset:    le64(b[56:]),
		compression: le16(b[77:]),
	}
	switch {
	case h.version < 1 || h.version > 3:
		return h, fmt.Errorf("vmdk sparse header version %d: %w", h.version, ErrUnsupported)
	case h.grainSize == 0 || h.grainSize&(h.grainSize-1) != 0 || h.grainSize > vmdkMaxGrain/vmdkSector: // no overflow
		return h, fmt.Errorf("vmdk grain size %d sectors out of range: %w", h.grainSize, ErrCorrupt)
	case h.gtEntries == 0 || h.gtEntries > vmdkMaxGTEs:
		return h, fmt.Errorf("vmdk %d entries per grain table out of range: %w", h.gtEntries, ErrCorrupt)
	case h.capacity > vmdkMaxCap/vmdkSector:
		return h, fmt.Errorf("vmdk capacity %d sectors too large: %w", h.capacity, ErrCorrupt)
	case h.flags&vmdkFlagComp != 0 && h.compression != vmdkCompDeflat:
		return h, fmt.Errorf("vmdk compression algorithm %d: %w", h.compression, ErrUnsupported)
	}
	return h, nil
}

// sparseExtent reads a monolithicSparse or streamOptimized extent through its
// grain directory, loaded whole at open.
type sparseExtent struct {
	f          *os.File
	fileSize   int64
	grainBytes int64
	gtEntries  int64
	gts        [][]uint32 // nil where the directory entry is empty
	compressed bool
}

// openSparseExtent reads the header (and, for GD_AT_END, the footer) and the
// grain tables of the sparse extent file f.
func openSparseExtent(f *os.File, fileSize int64) (*sparseExtent, sparseHeader, error) {
	b := make([]byte, 512)
	if err := readFull(f, b, 0, "vmdk sparse header"); err != nil {
		return nil, sparseHeader{}, err
	}
	h, err := parseSparseHeader(b)
	if err != nil {
		return nil, h, err
	}
	if h.gdOffset == vmdkGDAtEnd {
		// streamOptimized: the footer, a copy of the header with the real
		// directory offset, sits before the end-of-stream marker.
		if fileSize < 1536 {
			return nil, h, fmt.Errorf("vmdk footer: file of %d bytes too short: %w", fileSize, ErrCorrupt)
		}
		if err := readFull(f, b, fileSize-1024, "vmdk footer"); err != nil {
			return nil, h, err
		}
		foot, err := parseSparseHeader(b)
		if err != nil {
			return nil, h, fmt.Errorf("vmdk footer: %w", err)
		}
		if foot.gdOffset == vmdkGDAtEnd || foot.grainSize != h.grainSize || foot.gtEntries != h.gtEntries || foot.capacity != h.capacity {
			return nil, h, fmt.Errorf("vmdk footer disagrees with the header: %w", ErrCorrupt)
		}
		h.gdOffset = foot.gdOffset
	}
	e := &sparseExtent{
		f:          f,
		fileSize:   fileSize,
		grainBytes: int64(h.grainSize) * vmdkSector,
		gtEntries:  int64(h.gtEntries),
		compressed: h.flags&vmdkFlagComp != 0,
	}
	if err := e.loadTables(h); err != nil {
		return nil, h, err
	}
	return e, h, nil
}

func (e *sparseExtent) loadTables(h sparseHeader) error {
	grains := (h.capacity + h.grainSize - 1) / h.grainSize
	nGD := (grains + uint64(h.gtEntries) - 1) / uint64(h.gtEntries)
	gdOff := h.gdOffset * vmdkSector
	if h.gdOffset > uint64(e.fileSize) || gdOff > uint64(e.fileSize) || nGD*4 > uint64(e.fileSize)-gdOff {
		return fmt.Errorf("vmdk grain directory (%d entries at %d) beyond file end %d: %w", nGD, gdOff, e.fileSize, ErrCorrupt)
	}
	gd := make([]byte, nGD*4)
	if err := readFull(e.f, gd, int64(gdOff), "vmdk grain directory"); err != nil {
		return err
	}
	gtBytes := uint64(h.gtEntries) * 4
	var total uint64
	e.gts = make([][]uint32, nGD)
	buf := make([]byte, gtBytes)
	for i := range e.gts {
		sec := uint64(le32(gd[i*4:]))
		if sec == 0 {
			continue
		}
		off := sec * vmdkSector
		// Tables are part of the file, so together they cannot outweigh it.
		if total += gtBytes; total > uint64(e.fileSize) || off+gtBytes > uint64(e.fileSize) {
			return fmt.Errorf("vmdk grain table %d at %d beyond file end %d: %w", i, off, e.fileSize, ErrCorrupt)
		}
		if err := readFull(e.f, buf, int64(off), "vmdk grain table"); err != nil {
			return err
		}
		gt := make([]uint32, h.gtEntries)
		for j := range gt {
			gt[j] = le32(buf[j*4:])
		}
		e.gts[i] = gt
	}
	return nil
}

// grain returns the grain table entry of grain g: 0 unallocated, 1 zero
// grain, otherwise the sector of its data (or its marker, when compressed).
func (e *sparseExtent) grain(g int64) uint32 {
	t := g / e.gtEntries
	if t >= int64(len(e.gts)) || e.gts[t] == nil {
		return 0
	}
	return e.gts[t][g%e.gtEntries]
}

func (e *sparseExtent) readAt(p []byte, off int64) error {
	for len(p) > 0 {
		g, in := off/e.grainBytes, off%e.grainBytes
		n := min(int64(len(p)), e.grainBytes-in)
		ent := e.grain(g)
		var err error
		switch {
		case ent <= 1:
			clear(p[:n])
		case e.compressed:
			err = e.readCompressed(p[:n], g, in, ent)
		default:
			// Grains laid out one after another on disk are read with one
			// call, so large reads cost few syscalls.
			host := int64(ent)*vmdkSector + in
			for n < int64(len(p)) && int64(e.grain(g+1)) == int64(ent)+(g+1-off/e.grainBytes)*(e.grainBytes/vmdkSector) {
				g++
				n = min(int64(len(p)), n+e.grainBytes)
			}
			err = e.readHost(p[:n], host)
		}
		if err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

func (e *sparseExtent) readHost(p []byte, host int64) error {
	if host < 0 || host > e.fileSize || int64(len(p)) > e.fileSize-host {
		return fmt.Errorf("grain data at %d beyond file end %d: %w", host, e.fileSize, ErrCorrupt)
	}
	n, err := e.f.ReadAt(p, host)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read grain data at %d: %w", host+int64(n), err)
}

func (e *sparseExtent) allocated(ctx context.Context, base, length int64, m *rangeMerger) error {
	grains := (length + e.grainBytes - 1) / e.grainBytes
	for g := int64(0); g < grains; g++ {
		if g%e.gtEntries == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if t := g / e.gtEntries; t < int64(len(e.gts)) && e.gts[t] == nil {
				g += e.gtEntries - 1
				continue
			}
		}
		if e.grain(g) > 1 {
			off := g * e.grainBytes
			if err := m.add(Range{Off: base + off, Len: min(e.grainBytes, length-off)}); err != nil {
				return err
			}
		}
	}
	return nil
}
