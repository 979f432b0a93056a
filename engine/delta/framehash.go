package delta

import (
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/zeebo/blake3"
	"github.com/zeebo/xxh3"
)

// Frame hashes tell apply whether a replica range is at the base, at the
// target or neither, and check the bytes it assembles before it writes.
// They guard against accidents (a wrong replica, a torn write), not
// against someone who can write the delta or the replica, who could put
// any bytes there anyway, and the file's own BLAKE3 trailer still
// protects the delta as a whole. Version 3 therefore uses XXH3-128, about
// eight times faster than BLAKE3 on this work; version 2 files, with
// BLAKE3-256 frame hashes, are still read.
const versionBLAKE3Frames = 2

// frameHashLen is how many bytes a frame hash takes in a file of version v.
func frameHashLen(v byte) int {
	if v == versionBLAKE3Frames {
		return 32
	}
	return 16
}

// FrameHasher hashes a frame's bytes with its file version's function. The
// sum sits in a blob.ID, zero-padded when the hash is shorter.
type FrameHasher struct {
	b3 *blake3.Hasher
	x  *xxh3.Hasher
}

// NewFrameHasher returns a hasher for frames of a file of version v
// (Reader.NewFrameHasher, or WriteVersion when writing).
func NewFrameHasher(v byte) *FrameHasher {
	if v == versionBLAKE3Frames {
		return &FrameHasher{b3: blake3.New()}
	}
	return &FrameHasher{x: xxh3.New()}
}

// NewFrameHasher returns a hasher for rd's frames.
func (rd *Reader) NewFrameHasher() *FrameHasher { return NewFrameHasher(rd.version) }

// FrameSum is the frame hash of p in rd's format version.
func (rd *Reader) FrameSum(p []byte) blob.ID { return frameSum(rd.version, p) }

func (h *FrameHasher) Reset() {
	if h.b3 != nil {
		h.b3.Reset()
	} else {
		h.x.Reset()
	}
}

func (h *FrameHasher) Write(p []byte) {
	if h.b3 != nil {
		h.b3.Write(p)
	} else {
		h.x.Write(p)
	}
}

func (h *FrameHasher) Sum() blob.ID {
	var id blob.ID
	if h.b3 != nil {
		h.b3.Sum(id[:0])
	} else {
		b := h.x.Sum128().Bytes()
		copy(id[:], b[:])
	}
	return id
}

// frameSum is the frame hash of p in a file of version v.
func frameSum(v byte, p []byte) blob.ID {
	if v == versionBLAKE3Frames {
		return blob.Sum(p)
	}
	var id blob.ID
	b := xxh3.Hash128(p).Bytes()
	copy(id[:], b[:])
	return id
}
