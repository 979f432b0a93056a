package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// openParent finds a differencing disk's parent through its locator,
// relative path first, resolved against the child's directory.
func (v *vhdxReader) openParent(ctx context.Context, depth int) error {
	dir := filepath.Dir(v.name)
	var tried []string
	for _, key := range []string{"relative_path", "absolute_win32_path"} {
		p, ok := v.meta.parent[key]
		if !ok || p == "" {
			continue
		}
		p = strings.ReplaceAll(p, `\`, "/")
		if key == "absolute_win32_path" {
			// A Windows path cannot be opened here; the parent is looked
			// for beside the child under the same name.
			p = filepath.Base(p)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		tried = append(tried, p)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		parent, err := openDepth(ctx, p, depth+1)
		if err != nil {
			return fmt.Errorf("vhdx parent: %w", err)
		}
		if err := v.checkParent(parent); err != nil {
			parent.Close()
			return err
		}
		v.parent = parent
		return nil
	}
	return fmt.Errorf("vhdx parent not found (tried %q): %w", tried, os.ErrNotExist)
}

// checkParent compares parent_linkage with the parent's DataWriteGuid, which
// changes whenever the parent's data does.
func (v *vhdxReader) checkParent(parent Reader) error {
	link := strings.Trim(v.meta.parent["parent_linkage"], "{}")
	pv, ok := parent.(*vhdxReader)
	if !ok || link == "" {
		return nil
	}
	if !strings.EqualFold(link, pv.dataWrite.String()) {
		return fmt.Errorf("vhdx parent %q changed since the child was made (linkage %s, parent data %v): %w", pv.name, link, pv.dataWrite, ErrCorrupt)
	}
	return nil
}

// bitmap returns the sector bitmap of chunk c, reading it on first use.
func (v *vhdxReader) bitmap(c int64) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if b, ok := v.bitmaps[c]; ok {
		return b, nil
	}
	i := c*(v.chunkRatio+1) + v.chunkRatio
	if i >= int64(len(v.bat)) || v.bat[i]&7 != vhdxPartial {
		return nil, fmt.Errorf("sector bitmap of chunk %d not present: %w", c, ErrCorrupt)
	}
	off := int64(v.bat[i]>>20) << 20
	if off > v.fileSize-(1<<20) {
		return nil, fmt.Errorf("sector bitmap of chunk %d beyond file end: %w", c, ErrCorrupt)
	}
	b := make([]byte, 1<<20)
	if err := readExact(v.f, b, off); err != nil {
		return nil, fmt.Errorf("sector bitmap of chunk %d: %w", c, err)
	}
	v.bitmaps[c] = b
	return b, nil
}

// readPartial reads a partially present block: sectors whose bitmap bit is
// set come from this file, the rest from the parent, in runs.
func (v *vhdxReader) readPartial(p []byte, off int64, e uint64) error {
	ss := int64(v.meta.sectorSize)
	chunkBytes := v.chunkRatio * v.blockSize
	bm, err := v.bitmap(off / chunkBytes)
	if err != nil {
		return err
	}
	blockStart := off / v.blockSize * v.blockSize
	bit := func(o int64) bool {
		s := (o % chunkBytes) / ss
		return bm[s/8]&(1<<(s%8)) != 0
	}
	for len(p) > 0 {
		own := bit(off)
		n := min(int64(len(p)), ss-off%ss)
		for n < int64(len(p)) && bit(off+n) == own {
			n = min(int64(len(p)), n+ss)
		}
		if own {
			err = readExact(v.f, p[:n], int64(e>>20)<<20+off-blockStart)
		} else {
			err = v.readParent(p[:n], off)
		}
		if err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// Allocated reports present blocks whole and, where a differencing disk
// defers to its parent, the parent's allocated ranges.
func (v *vhdxReader) Allocated(ctx context.Context, fn func(Range) error) error {
	var inherited []Range
	if v.parent != nil {
		if err := v.parent.Allocated(ctx, func(r Range) error {
			inherited = append(inherited, r)
			return nil
		}); err != nil {
			return fmt.Errorf("vhdx %q parent: %w", v.name, err)
		}
	}
	m := rangeMerger{ctx: ctx, fn: fn}
	blocks := (v.size + v.blockSize - 1) / v.blockSize
	for blk := int64(0); blk < blocks; blk++ {
		start := blk * v.blockSize
		end := min(start+v.blockSize, v.size)
		var err error
		switch v.bat[blk+blk/v.chunkRatio] & 7 {
		case vhdxFull, vhdxPartial:
			err = m.add(Range{Off: start, Len: end - start})
		case vhdxNotPresent, vhdxUndefined:
			for len(inherited) > 0 && inherited[0].Off+inherited[0].Len <= start {
				inherited = inherited[1:]
			}
			for _, r := range inherited {
				if r.Off >= end || err != nil {
					break
				}
				s, t := max(r.Off, start), min(r.Off+r.Len, end)
				err = m.add(Range{Off: s, Len: t - s})
			}
		}
		if err != nil {
			return err
		}
	}
	return m.flush()
}
