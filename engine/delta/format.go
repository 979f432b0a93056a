package delta

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vmrep/vmrep/engine/cas"
)

// Format constants; doc/design.md, "Delta file", describes the layout.
const (
	magic       = "VMDL"
	trailMagic  = "VMDT"
	version     = 1
	prefixLen   = 12 // magic, version, file kind, 2 zero bytes, header length
	trailerLen  = 4 + 32
	recHeadLen  = 1 + 2 + 1 + 8 + 4 + 32 + 32
	maxHeader   = 4 << 20
	maxVolumes  = 4096
	maxParts    = 1 << 20
	endOfRecord = 0xff

	// MaxRecordLen bounds the volume bytes one record covers.
	MaxRecordLen = 4 << 20
	// maxStored bounds a record's compressed data: zstd never grows
	// incompressible input by more than a small frame overhead.
	maxStored = MaxRecordLen + 64<<10
)

// File kinds, the byte after the version.
const (
	kindSingle = 1 // a whole delta in one file
	kindIndex  = 2 // the index of a split delta: header and parts, no records
	kindPart   = 3 // one part of a split delta: records only
)

// Kind is what a record does to its range.
type Kind uint8

const (
	KindData Kind = 1 // write the record's bytes
	KindZero Kind = 2 // make the range read as zeros
	// KindCopy (copy from a base offset) is reserved; version 1 neither
	// writes nor accepts it.
	KindCopy Kind = 3
)

func (k Kind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindZero:
		return "zero"
	case KindCopy:
		return "copy"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Record flags.
const (
	// flagNoBase: the range lies past the base volume's end, so there are
	// no base bytes to check; the base hash is zero.
	flagNoBase = 1
)

// ErrFormat is wrapped by every error about a malformed or damaged delta.
var ErrFormat = errors.New("malformed delta")

func formatErr(where string, f string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrFormat, where, fmt.Sprintf(f, args...))
}

// Record is one range of one volume.
type Record struct {
	Volume     int // index into Header.Volumes
	Kind       Kind
	NoBase     bool // past the base's end: no base bytes to check
	Off        int64
	Len        int64
	BaseHash   cas.ID
	TargetHash cas.ID
	// Stored is the zstd data of a data record as read or written; Data
	// the decompressed bytes when a walk asks for them.
	Stored []byte
	Data   []byte
}

func appendPrefix(dst []byte, kind byte, hdr []byte) []byte {
	dst = append(dst, magic...)
	dst = append(dst, version, kind, 0, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(hdr)))
	return append(dst, hdr...)
}

// appendRecord encodes r's head and stored data.
func appendRecord(dst []byte, r *Record) []byte {
	var flags byte
	if r.NoBase {
		flags |= flagNoBase
	}
	dst = append(dst, byte(r.Kind))
	dst = binary.LittleEndian.AppendUint16(dst, uint16(r.Volume))
	dst = append(dst, flags)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.Off))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(r.Len))
	dst = append(dst, r.BaseHash[:]...)
	dst = append(dst, r.TargetHash[:]...)
	if r.Kind == KindData {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(r.Stored)))
		dst = append(dst, r.Stored...)
	}
	return dst
}

// decodeRecordHead parses a record head; it checks every field against the
// bounds before anything is allocated.
func decodeRecordHead(b []byte, r *Record, volumes int) error {
	r.Kind = Kind(b[0])
	if r.Kind != KindData && r.Kind != KindZero {
		return formatErr("record", "unknown kind %d", b[0])
	}
	r.Volume = int(binary.LittleEndian.Uint16(b[1:]))
	if r.Volume >= volumes {
		return formatErr("record", "volume index %d of %d", r.Volume, volumes)
	}
	if b[3]&^flagNoBase != 0 {
		return formatErr("record", "unknown flags %#x", b[3])
	}
	r.NoBase = b[3]&flagNoBase != 0
	off := binary.LittleEndian.Uint64(b[4:])
	n := binary.LittleEndian.Uint32(b[12:])
	if n == 0 || n > MaxRecordLen || off > 1<<62 {
		return formatErr("record", "range %d+%d out of bounds", off, n)
	}
	r.Off, r.Len = int64(off), int64(n)
	copy(r.BaseHash[:], b[16:48])
	copy(r.TargetHash[:], b[48:80])
	return nil
}
