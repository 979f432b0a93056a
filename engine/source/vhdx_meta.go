package source

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
)

// guid is a GUID in its on-disk byte order (first three fields little
// endian), written in its usual text form.
type guid [16]byte

func parseGUID(s string) guid {
	var g guid
	var raw [16]byte
	hex := strings.ReplaceAll(s, "-", "")
	for i := range raw {
		fmt.Sscanf(hex[2*i:2*i+2], "%02x", &raw[i])
	}
	copy(g[:], raw[:])
	// Swap the first three fields into little endian.
	g[0], g[1], g[2], g[3] = raw[3], raw[2], raw[1], raw[0]
	g[4], g[5] = raw[5], raw[4]
	g[6], g[7] = raw[7], raw[6]
	return g
}

func (g guid) String() string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", binary.LittleEndian.Uint32(g[0:]),
		binary.LittleEndian.Uint16(g[4:]), binary.LittleEndian.Uint16(g[6:]), g[8:10], g[10:])
}

var (
	guidBATRegion      = parseGUID("2DC27766-F623-4200-9D64-115E9BFD4A08")
	guidMetaRegion     = parseGUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")
	guidFileParams     = parseGUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
	guidDiskSize       = parseGUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
	guidDiskID         = parseGUID("BECA12AB-B2E6-4523-93EF-C309E000C746")
	guidLogicalSector  = parseGUID("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
	guidPhysSector     = parseGUID("CDA348C7-445D-4471-9CC9-E9885251C556")
	guidParentLocator  = parseGUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
	guidVHDXParentType = parseGUID("B04AEFB7-D19E-4A81-B789-25B8E9445913")
)

// vhdxMeta is what the metadata region says about the virtual disk.
type vhdxMeta struct {
	blockSize  uint32
	hasParent  bool
	diskSize   uint64
	sectorSize uint32
	parent     map[string]string // parent locator key/value pairs
}

// parseVHDXMeta decodes the metadata region (already read whole into b).
func parseVHDXMeta(b []byte) (vhdxMeta, error) {
	var m vhdxMeta
	if len(b) < 32 || string(b[:8]) != "metadata" {
		return m, fmt.Errorf("vhdx metadata table: bad signature: %w", ErrCorrupt)
	}
	count := int(le16(b[10:]))
	if count > 2047 || 32+count*32 > len(b) {
		return m, fmt.Errorf("vhdx metadata table: %d entries: %w", count, ErrCorrupt)
	}
	seen := map[guid]bool{}
	for i := range count {
		e := b[32+i*32 : 64+i*32]
		var id guid
		copy(id[:], e[:16])
		off, n, flags := le32(e[16:]), le32(e[20:]), le32(e[24:])
		if n > 0 && (off < 64<<10 || uint64(off)+uint64(n) > uint64(len(b))) {
			return m, fmt.Errorf("vhdx metadata item %v (%d bytes at %d) out of bounds: %w", id, n, off, ErrCorrupt)
		}
		item := b[off : off+n]
		need := func(k uint32) error {
			if n < k {
				return fmt.Errorf("vhdx metadata item %v: %d bytes, want %d: %w", id, n, k, ErrCorrupt)
			}
			return nil
		}
		var err error
		switch id {
		case guidFileParams:
			if err = need(8); err == nil {
				m.blockSize = le32(item)
				m.hasParent = le32(item[4:])&2 != 0
			}
		case guidDiskSize:
			if err = need(8); err == nil {
				m.diskSize = le64(item)
			}
		case guidLogicalSector:
			if err = need(4); err == nil {
				m.sectorSize = le32(item)
			}
		case guidParentLocator:
			m.parent, err = parseParentLocator(item)
		case guidDiskID, guidPhysSector:
		default:
			if flags&4 != 0 {
				err = fmt.Errorf("vhdx required metadata item %v: %w", id, ErrUnsupported)
			}
		}
		if err != nil {
			return m, err
		}
		seen[id] = true
	}
	for _, id := range []guid{guidFileParams, guidDiskSize, guidLogicalSector} {
		if !seen[id] {
			return m, fmt.Errorf("vhdx metadata item %v missing: %w", id, ErrCorrupt)
		}
	}
	switch {
	case m.blockSize < 1<<20 || m.blockSize > 256<<20 || m.blockSize&(m.blockSize-1) != 0:
		return m, fmt.Errorf("vhdx block size %d: %w", m.blockSize, ErrCorrupt)
	case m.sectorSize != 512 && m.sectorSize != 4096:
		return m, fmt.Errorf("vhdx logical sector size %d: %w", m.sectorSize, ErrCorrupt)
	case m.diskSize > 64<<40 || m.diskSize%uint64(m.sectorSize) != 0:
		return m, fmt.Errorf("vhdx virtual size %d: %w", m.diskSize, ErrCorrupt)
	case m.hasParent && m.parent == nil:
		return m, fmt.Errorf("vhdx differencing disk without a parent locator: %w", ErrCorrupt)
	}
	return m, nil
}

// parseParentLocator decodes a VHDX parent locator into its UTF-16 keys and
// values.
func parseParentLocator(b []byte) (map[string]string, error) {
	if len(b) < 20 {
		return nil, fmt.Errorf("vhdx parent locator: %d bytes: %w", len(b), ErrCorrupt)
	}
	var typ guid
	copy(typ[:], b[:16])
	if typ != guidVHDXParentType {
		return nil, fmt.Errorf("vhdx parent locator type %v: %w", typ, ErrUnsupported)
	}
	count := int(le16(b[18:]))
	if 20+count*12 > len(b) {
		return nil, fmt.Errorf("vhdx parent locator: %d entries: %w", count, ErrCorrupt)
	}
	kv := make(map[string]string, count)
	for i := range count {
		e := b[20+i*12:]
		ko, vo, kl, vl := int(le32(e)), int(le32(e[4:])), int(le16(e[8:])), int(le16(e[10:]))
		if ko+kl > len(b) || vo+vl > len(b) || kl%2 != 0 || vl%2 != 0 {
			return nil, fmt.Errorf("vhdx parent locator entry %d out of bounds: %w", i, ErrCorrupt)
		}
		kv[utf16String(b[ko:ko+kl])] = utf16String(b[vo : vo+vl])
	}
	return kv, nil
}

func utf16String(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = le16(b[2*i:])
	}
	return string(utf16.Decode(u))
}
