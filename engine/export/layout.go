package export

import (
	"encoding/binary"
	"fmt"
)

// QCOW2 constants from the published format description (version 3).
const (
	qcowMagic        = 0x514649fb // "QFI\xfb"
	qcowVersion      = 3
	headerLength     = 112 // the v3 header with the compression type byte, padded to 8
	refcountOrder    = 4   // 16-bit refcounts
	flagCopied       = uint64(1) << 63
	offsetMask       = uint64(0x00fffffffffffe00) // bits 9-55 of L1 and L2 entries
	maxL1Entries     = 32 << 20 / 8               // qemu refuses larger L1 tables
	minClusterBits   = 9
	maxClusterBits   = 21
	defaultClustBits = 16
	sectorSize       = 512
)

// layout places every metadata structure of the image before any data is
// read. Offsets are in bytes; counts are in clusters unless said otherwise.
//
// The file is, in order: header cluster, refcount table, refcount blocks,
// L1 table, L2 tables (one per L1 entry that covers a candidate cluster),
// data clusters. Candidates are clusters that overlap a chunk; the ones
// whose bytes turn out all zero are never written, so the refcount blocks
// are sized for the worst case and may cover clusters the file never has.
type layout struct {
	bits       uint
	cs         int64 // cluster size
	size       int64 // virtual size written in the header (volume size rounded up to 512)
	l2Entries  int64 // entries per L2 table
	l1Entries  int64
	candidates int64 // clusters that may hold data
	l2Tables   int64

	reftableOff, reftableClusters int64
	refblockOff, refblocks        int64
	l1Off, l1Clusters             int64
	l2Off                         int64
	dataOff                       int64
	metaClusters                  int64
}

func clusterBits(opt int) (uint, error) {
	if opt == 0 {
		return defaultClustBits, nil
	}
	if opt < minClusterBits || opt > maxClusterBits {
		return 0, fmt.Errorf("cluster bits %d out of range %d..%d", opt, minClusterBits, maxClusterBits)
	}
	return uint(opt), nil
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// newLayout sizes the tables for a volume of size bytes. The candidate
// counts come later, from planMeta.
func newLayout(bits uint, size int64) (*layout, error) {
	l := &layout{bits: bits, cs: 1 << bits}
	l.size = ceilDiv(size, sectorSize) * sectorSize
	l.l2Entries = l.cs / 8
	l.l1Entries = ceilDiv(ceilDiv(l.size, l.cs), l.l2Entries)
	if l.l1Entries > maxL1Entries {
		return nil, fmt.Errorf("volume of %d bytes needs %d L1 entries with %d-byte clusters; at most %d fit",
			size, l.l1Entries, l.cs, maxL1Entries)
	}
	return l, nil
}

// place fixes every offset once candidates and l2Tables are known. The
// refcount blocks must count themselves and the table that lists them, so
// their number is found by iterating to a fixed point; it only grows, and
// settles within a few rounds.
func (l *layout) place() {
	l.l1Clusters = ceilDiv(l.l1Entries*8, l.cs) // none for an empty volume: an unreferenced one would be a leak
	perBlock := l.cs * 8 / (1 << refcountOrder)
	l.refblocks = 1
	for {
		l.reftableClusters = ceilDiv(l.refblocks*8, l.cs)
		l.metaClusters = 1 + l.reftableClusters + l.refblocks + l.l1Clusters + l.l2Tables
		need := ceilDiv(l.metaClusters+l.candidates, perBlock)
		if need <= l.refblocks {
			break
		}
		l.refblocks = need
	}
	l.reftableOff = l.cs
	l.refblockOff = l.reftableOff + l.reftableClusters*l.cs
	l.l1Off = l.refblockOff + l.refblocks*l.cs
	l.l2Off = l.l1Off + l.l1Clusters*l.cs
	l.dataOff = l.l2Off + l.l2Tables*l.cs
}

// header encodes the image header into the first cluster.
func (l *layout) header(buf []byte) {
	clear(buf)
	be := binary.BigEndian
	be.PutUint32(buf[0:], qcowMagic)
	be.PutUint32(buf[4:], qcowVersion)
	// 8: backing file offset, 16: backing file size stay 0.
	be.PutUint32(buf[20:], uint32(l.bits))
	be.PutUint64(buf[24:], uint64(l.size))
	// 32: crypt method 0.
	be.PutUint32(buf[36:], uint32(l.l1Entries))
	be.PutUint64(buf[40:], uint64(l.l1Off))
	be.PutUint64(buf[48:], uint64(l.reftableOff))
	be.PutUint32(buf[56:], uint32(l.reftableClusters))
	// 60: no snapshots; 72, 80, 88: no incompatible, compatible or autoclear features.
	be.PutUint32(buf[96:], refcountOrder)
	be.PutUint32(buf[100:], headerLength)
	// 104: compression type 0 (zlib, unused). The zero bytes after the
	// header are the end-of-extensions marker.
}

// refblock fills block k of the refcount blocks: every cluster below used
// has refcount 1, every other 0.
func (l *layout) refblock(buf []byte, k, used int64) {
	clear(buf)
	perBlock := int64(len(buf)) / 2
	first := k * perBlock
	for i := int64(0); i < perBlock && first+i < used; i++ {
		binary.BigEndian.PutUint16(buf[2*i:], 1)
	}
}
