package delta

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"
)

// Format constants; doc/design.md, "Delta file", describes the layout.
const (
	magic      = "VMDL"
	trailMagic = "VMDT"
	// version 4 adds target copies (a copy record whose source is the
	// target volume, recFromTarget); version 3 files (XXH3-128 frame
	// hashes, framehash.go) and version 2 files (BLAKE3-256 frame hashes)
	// are still read; version 1 (a pair of hashes per record) is refused.
	version    = 4
	prefixLen  = 12 // magic, version, file kind, 2 zero bytes, header length
	trailerLen = 4 + 32
	maxHeader  = 4 << 20
	maxVolumes = 4096
	maxParts   = 1 << 20

	frameTag    = 0x01
	endOfFrames = 0xff

	// MaxRecordLen bounds the volume bytes one record covers.
	MaxRecordLen = 4 << 20
	// MaxFrameLen bounds the volume bytes one frame's records cover
	// together; it is also the most a frame's data expands to.
	MaxFrameLen = 4 << 20
	// MaxFrameRecords bounds the records of one frame.
	MaxFrameRecords = 4096
	// maxStored bounds a frame's stored data: zstd never grows
	// incompressible input by more than a small frame overhead, and raw
	// data is stored as it is.
	maxStored = MaxFrameLen + 64<<10
)

// writeVersion is the version the sinks write; only tests change it
// (WriteVersion2ForTest), to check that version 2 files are still read and
// applied.
var writeVersion byte = version

// WriteVersion is the format version the sinks write, which picks the
// frame hash function an exporter must use (NewFrameHasher).
func WriteVersion() byte { return writeVersion }

// WriteVersion2ForTest makes the sinks write format version 2 (BLAKE3-256
// frame hashes) until the returned function is called. Only tests use it.
func WriteVersion2ForTest() (restore func()) {
	writeVersion = versionBLAKE3Frames
	return func() { writeVersion = version }
}

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
	KindCopy Kind = 3 // copy the base's bytes at Src (same volume) here
	// KindTargetCopy copies the target's bytes at Src (same volume) here:
	// bytes this delta writes elsewhere, or leaves as they are. Apply
	// writes the frames that hold one after every other frame (version 4).
	KindTargetCopy Kind = 4
)

func (k Kind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindZero:
		return "zero"
	case KindCopy:
		return "copy"
	case KindTargetCopy:
		return "target-copy"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Frame flags.
const (
	// flagNoBase: the frame lies past the base volume's end, so there are
	// no base bytes to check and no base hash.
	flagNoBase = 1
)

// Record head bits: the kind in bits 0-1; bit 2 says gap and length are
// counted in 4 KiB blocks rather than bytes; bit 3, on a copy, says its
// source is the target (KindTargetCopy; version 4 on).
const (
	recKindMask   = 0x03
	recBlocks     = 0x04
	recFromTarget = 0x08
)

// VersionTargetCopies is the first format version with target copies.
const VersionTargetCopies = 4

// Stored-data modes of a frame.
const (
	StoredRaw  = 0
	StoredZstd = 1
)

// blockSize is the unit a record head may count its gap and length in.
const blockSize = 4096

// ErrFormat is wrapped by every error about a malformed or damaged delta.
var ErrFormat = errors.New("malformed delta")

func formatErr(where string, f string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrFormat, where, fmt.Sprintf(f, args...))
}

// Record is one range of one volume. BaseHash and TargetHash are those of
// the record's frame: BLAKE3 over the concatenated base (target) bytes of
// every range in the frame.
type Record struct {
	Volume     int // index into Header.Volumes
	Kind       Kind
	NoBase     bool // past the base's end: no base bytes to check
	Off        int64
	Len        int64
	Src        int64 // copy: the base offset the bytes come from; target copy: the target offset
	BaseHash   blob.ID
	TargetHash blob.ID
	// Stored is the frame's stored data (zstd or raw), set on the frame's
	// first data record only, so that summing len(Stored) over records
	// gives the stored bytes. Data is a data record's bytes when a walk
	// asks for them.
	Stored []byte
	Data   []byte
}

// Frame is a run of records of one volume, in offset order, checked as
// one: apply hashes the replica's bytes of all its ranges together.
type Frame struct {
	Volume     int
	NoBase     bool
	BaseHash   blob.ID
	TargetHash blob.ID
	Recs       []Record // Volume, Kind, Off, Len, Src set; Data set by decodeData
	Mode       byte
	Stored     []byte // the data records' bytes, concatenated, as stored
	DataLen    int64  // the data records' bytes, uncompressed
	Span       int64  // the bytes all records cover
	// TargetCopies: some record is a KindTargetCopy, so apply writes the
	// frame in its second round, once every other frame is written.
	TargetCopies bool
}

func appendPrefix(dst []byte, kind byte, hdr []byte) []byte {
	dst = append(dst, magic...)
	dst = append(dst, writeVersion, kind, 0, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(hdr)))
	return append(dst, hdr...)
}

// AppendFrame encodes f: tag, volume, flags, record count, hashes, records
// (head, gap from the previous record's end, length, copy source as a
// zigzag distance), then the stored data.
func AppendFrame(dst []byte, f *Frame) []byte {
	var flags byte
	if f.NoBase {
		flags |= flagNoBase
	}
	dst = append(dst, frameTag)
	dst = binary.AppendUvarint(dst, uint64(f.Volume))
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(f.Recs)))
	hl := frameHashLen(writeVersion)
	if !f.NoBase {
		dst = append(dst, f.BaseHash[:hl]...)
	}
	dst = append(dst, f.TargetHash[:hl]...)
	prev := int64(0)
	for i := range f.Recs {
		r := &f.Recs[i]
		gap, n := r.Off-prev, r.Len
		head := byte(r.Kind)
		if r.Kind == KindTargetCopy {
			head = byte(KindCopy) | recFromTarget
		}
		if gap%blockSize == 0 && n%blockSize == 0 {
			head |= recBlocks
			gap, n = gap/blockSize, n/blockSize
		}
		dst = append(dst, head)
		dst = binary.AppendUvarint(dst, uint64(gap))
		dst = binary.AppendUvarint(dst, uint64(n))
		if r.Kind == KindCopy || r.Kind == KindTargetCopy {
			dst = binary.AppendVarint(dst, r.Off-r.Src)
		}
		prev = r.Off + r.Len
	}
	if f.DataLen > 0 {
		dst = append(dst, f.Mode)
		dst = binary.AppendUvarint(dst, uint64(len(f.Stored)))
		dst = append(dst, f.Stored...)
	}
	return dst
}

// grow returns b resized to n bytes, reallocated only when too small.
func grow(b []byte, n int64) []byte {
	if int64(cap(b)) < n {
		return make([]byte, n)
	}
	return b[:n]
}
