package source

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	vmdkMaxDescriptor = 1 << 20
	vmdkMaxExtents    = 4096
)

// vmdkExtentLine is one extent line of a descriptor, such as
// `RW 2048 FLAT "disk-flat.vmdk" 0`.
type vmdkExtentLine struct {
	sectors int64
	kind    string
	file    string
	offset  int64 // sectors, FLAT only
}

type vmdkDescriptor struct {
	createType string
	parentCID  string
	extents    []vmdkExtentLine
}

// parseVMDKDescriptor reads the text descriptor of a VMDK: key="value" lines
// and extent lines; comments and unknown keys are ignored.
func parseVMDKDescriptor(text []byte) (vmdkDescriptor, error) {
	var d vmdkDescriptor
	if i := bytes.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && !strings.ContainsAny(k, " \t\"") {
			v = strings.Trim(strings.TrimSpace(v), `"`)
			switch strings.TrimSpace(k) {
			case "createType":
				d.createType = v
			case "parentCID":
				d.parentCID = v
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 || (f[0] != "RW" && f[0] != "RDONLY" && f[0] != "NOACCESS") {
			continue
		}
		e, err := parseExtentLine(line, f)
		if err != nil {
			return d, err
		}
		if len(d.extents) >= vmdkMaxExtents {
			return d, fmt.Errorf("vmdk descriptor: more than %d extents: %w", vmdkMaxExtents, ErrCorrupt)
		}
		d.extents = append(d.extents, e)
	}
	if err := sc.Err(); err != nil {
		return d, fmt.Errorf("vmdk descriptor: %w: %w", ErrCorrupt, err)
	}
	return d, nil
}

func parseExtentLine(line string, f []string) (vmdkExtentLine, error) {
	var e vmdkExtentLine
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || n < 0 || n > vmdkMaxCap/vmdkSector {
		return e, fmt.Errorf("vmdk extent line %q: bad size: %w", line, ErrCorrupt)
	}
	e.sectors, e.kind = n, f[2]
	if e.kind == "ZERO" {
		return e, nil
	}
	// The file name is quoted and may hold spaces.
	q1 := strings.IndexByte(line, '"')
	q2 := strings.LastIndexByte(line, '"')
	if q1 < 0 || q2 <= q1+1 {
		return e, fmt.Errorf("vmdk extent line %q: no quoted file name: %w", line, ErrCorrupt)
	}
	e.file = line[q1+1 : q2]
	if rest := strings.Fields(line[q2+1:]); len(rest) > 0 {
		o, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil || o < 0 || o > vmdkMaxCap/vmdkSector {
			return e, fmt.Errorf("vmdk extent line %q: bad offset: %w", line, ErrCorrupt)
		}
		e.offset = o
	}
	return e, nil
}

func checkParent(d vmdkDescriptor) error {
	if d.parentCID != "" && !strings.EqualFold(d.parentCID, "ffffffff") {
		return fmt.Errorf("vmdk with a parent (parentCID %s): %w", d.parentCID, ErrUnsupported)
	}
	return nil
}

// openVMDK opens a VMDK from either its sparse extent (which embeds the
// descriptor) or its text descriptor.
func openVMDK(ctx context.Context, f *os.File, fileSize int64, hdr []byte) (Reader, error) {
	v := &vmdkReader{name: f.Name(), files: []*os.File{f}}
	switch {
	case bytes.HasPrefix(hdr, []byte("COWD")):
		return nil, fmt.Errorf("vmdk ESX sparse (COWD) extent: %w", ErrUnsupported)
	case bytes.HasPrefix(hdr, []byte("KDMV")):
		e, h, err := openSparseExtent(f, fileSize)
		if err != nil {
			return nil, err
		}
		if h.descOff != 0 && h.descSize != 0 {
			off, n := h.descOff*vmdkSector, h.descSize*vmdkSector
			if h.descSize > vmdkMaxDescriptor/vmdkSector || off > uint64(fileSize) || n > uint64(fileSize)-off {
				return nil, fmt.Errorf("vmdk embedded descriptor (%d sectors at %d) out of bounds: %w", h.descSize, h.descOff, ErrCorrupt)
			}
			text := make([]byte, n)
			if err := readFull(f, text, int64(off), "vmdk embedded descriptor"); err != nil {
				return nil, err
			}
			d, err := parseVMDKDescriptor(text)
			if err != nil {
				return nil, err
			}
			if err := checkParent(d); err != nil {
				return nil, err
			}
		}
		v.size = int64(h.capacity) * vmdkSector
		v.extents = []placedExtent{{start: 0, length: v.size, ext: e}}
		return v, nil
	}
	if fileSize > vmdkMaxDescriptor {
		return nil, fmt.Errorf("vmdk descriptor of %d bytes larger than %d: %w", fileSize, vmdkMaxDescriptor, ErrCorrupt)
	}
	text := make([]byte, fileSize)
	if err := readFull(f, text, 0, "vmdk descriptor"); err != nil {
		return nil, err
	}
	d, err := parseVMDKDescriptor(text)
	if err != nil {
		return nil, err
	}
	if err := checkParent(d); err != nil {
		return nil, err
	}
	if len(d.extents) == 0 {
		return nil, fmt.Errorf("vmdk descriptor (createType %q) names no extents: %w", d.createType, ErrCorrupt)
	}
	if err := v.addExtents(ctx, filepath.Dir(f.Name()), d.extents); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// addExtents opens the extent files a descriptor names, relative to the
// descriptor's directory as VMware writes them.
func (v *vmdkReader) addExtents(ctx context.Context, dir string, lines []vmdkExtentLine) error {
	for _, l := range lines {
		if err := ctx.Err(); err != nil {
			return err
		}
		length := l.sectors * vmdkSector
		if v.size > vmdkMaxCap-length {
			return fmt.Errorf("vmdk extents add up past %d bytes: %w", int64(vmdkMaxCap), ErrCorrupt)
		}
		var ext vmdkExtent
		switch l.kind {
		case "ZERO":
			ext = zeroExtent{}
		case "FLAT", "VMFS", "SPARSE":
			path := l.file
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
			ef, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("vmdk extent %q: %w", l.file, unwrapPathError(err))
			}
			v.files = append(v.files, ef)
			st, err := ef.Stat()
			if err != nil {
				return fmt.Errorf("vmdk extent %q: %w", l.file, err)
			}
			if !st.Mode().IsRegular() {
				return fmt.Errorf("vmdk extent %q: not a regular file", l.file)
			}
			if l.kind != "SPARSE" {
				ext = &flatExtent{f: ef, fileOff: l.offset * vmdkSector, fileSize: st.Size()}
				break
			}
			se, h, err := openSparseExtent(ef, st.Size())
			if err != nil {
				return fmt.Errorf("vmdk extent %q: %w", l.file, err)
			}
			if int64(h.capacity) < l.sectors {
				return fmt.Errorf("vmdk extent %q: capacity %d sectors, descriptor says %d: %w", l.file, h.capacity, l.sectors, ErrCorrupt)
			}
			ext = se
		default:
			return fmt.Errorf("vmdk extent type %s: %w", l.kind, ErrUnsupported)
		}
		v.extents = append(v.extents, placedExtent{start: v.size, length: length, ext: ext})
		v.size += length
	}
	return nil
}
