package export

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/zero"
)

// WriteQcow2 writes the volume of manifest m to w as a QCOW2 version 3
// image, starting at offset 0. Clusters that hold only zeros are left
// unallocated. w should be empty: bytes it already holds past the image's
// end are not cleared.
func WriteQcow2(ctx context.Context, r blob.Reader, m *volume.Manifest, w io.WriterAt, opts Options) (Stats, error) {
	bits, err := clusterBits(opts.ClusterBits)
	if err != nil {
		return Stats{}, err
	}
	l, err := newLayout(bits, m.Size)
	if err != nil {
		return Stats{}, err
	}
	q := &qcowWriter{w: w, l: l, l1: make([]uint64, l.l1Entries)}
	if err := q.plan(ctx, r, m); err != nil {
		return Stats{}, err
	}
	q.l2 = make([]byte, l.cs)
	q.cluster = make([]byte, l.cs)
	q.cur, q.l2Idx = -1, -1

	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	st := Stats{Size: m.Size}
	var last time.Time
	err = readInOrder(ctx, r, m, workers, &st.Holes, func(off int64, data []byte) error {
		st.Chunks++
		st.DataBytes += int64(len(data))
		if opts.Progress != nil && time.Since(last) >= 200*time.Millisecond {
			last = time.Now()
			opts.Progress(off, m.Size)
		}
		return q.add(off, data)
	})
	if err != nil {
		return Stats{}, err
	}
	if err := q.finish(); err != nil {
		return Stats{}, err
	}
	if opts.Progress != nil {
		opts.Progress(m.Size, m.Size)
	}
	st.DataClusters = q.dataClusters
	st.FileSize = (l.metaClusters + q.dataClusters) * l.cs
	return st, nil
}

// qcowWriter assembles clusters in volume order. It holds the L1 table, one
// L2 table and one cluster; nothing else grows with the volume.
type qcowWriter struct {
	w  io.WriterAt
	l  *layout
	l1 []uint64

	l2    []byte
	l2Idx int64 // L1 index of the table in l2; -1 before the first

	cluster []byte
	cur     int64 // virtual cluster index held in cluster; -1 when none
	dirty   bool

	dataClusters int64
}

// plan walks the manifest once to find the candidate clusters (any that
// overlaps a chunk) and the L1 entries that need an L2 table, then places
// the metadata and points those L1 entries at their tables.
func (q *qcowWriter) plan(ctx context.Context, r blob.Reader, m *volume.Manifest) error {
	l := q.l
	last := int64(-1) // last candidate counted; entries come in order
	err := m.Walk(ctx, r, 0, func(off int64, e volume.Entry) error {
		if e.Hole || e.Length == 0 {
			return nil
		}
		first, end := off>>l.bits, (off+e.Length-1)>>l.bits
		if first <= last {
			first = last + 1
		}
		if first > end {
			return nil
		}
		l.candidates += end - first + 1
		for li := first / l.l2Entries; li <= end/l.l2Entries; li++ {
			q.l1[li] = 1 // marked; replaced by the table's offset below
		}
		last = end
		return nil
	})
	if err != nil {
		return fmt.Errorf("plan qcow2 layout: %w", err)
	}
	for _, v := range q.l1 {
		if v != 0 {
			l.l2Tables++
		}
	}
	l.place()
	next := l.l2Off
	for i, v := range q.l1 {
		if v != 0 {
			q.l1[i] = uint64(next) | flagCopied
			next += l.cs
		}
	}
	return nil
}

// add copies a chunk at volume offset off into the clusters it overlaps,
// writing out each cluster as the chunk moves past it.
func (q *qcowWriter) add(off int64, data []byte) error {
	mask := q.l.cs - 1
	for len(data) > 0 {
		if c := off >> q.l.bits; c != q.cur {
			if err := q.flushCluster(); err != nil {
				return err
			}
			clear(q.cluster)
			q.cur = c
		}
		n := copy(q.cluster[off&mask:], data)
		q.dirty = true
		off += int64(n)
		data = data[n:]
	}
	return nil
}

func (q *qcowWriter) flushCluster() error {
	if q.cur < 0 || !q.dirty || zero.Is(q.cluster) {
		q.dirty = false
		return nil
	}
	q.dirty = false
	if q.dataClusters >= q.l.candidates {
		return fmt.Errorf("qcow2: cluster %d was not planned as a candidate", q.cur)
	}
	host := q.l.dataOff + q.dataClusters*q.l.cs
	if _, err := q.w.WriteAt(q.cluster, host); err != nil {
		return fmt.Errorf("write qcow2 data cluster for offset %d: %w", q.cur<<q.l.bits, err)
	}
	q.dataClusters++
	li := q.cur / q.l.l2Entries
	if li != q.l2Idx {
		if err := q.writeL2Until(li); err != nil {
			return err
		}
	}
	binary.BigEndian.PutUint64(q.l2[(q.cur%q.l.l2Entries)*8:], uint64(host)|flagCopied)
	return nil
}

// writeL2Until writes the L2 table in hand and empty tables for every
// planned L1 entry before li that got no data, then makes li current.
// Every planned table is written so the file never ends inside metadata.
func (q *qcowWriter) writeL2Until(li int64) error {
	for j := max(q.l2Idx, 0); j < li && j < q.l.l1Entries; j++ {
		if q.l1[j] == 0 {
			continue
		}
		if j != q.l2Idx {
			clear(q.l2)
		}
		if _, err := q.w.WriteAt(q.l2, int64(q.l1[j]&offsetMask)); err != nil {
			return fmt.Errorf("write qcow2 L2 table %d: %w", j, err)
		}
	}
	clear(q.l2)
	q.l2Idx = li
	return nil
}

// finish writes the last cluster, the remaining L2 tables, the L1 table,
// the refcounts and, last, the header.
func (q *qcowWriter) finish() error {
	l := q.l
	if err := q.flushCluster(); err != nil {
		return err
	}
	if err := q.writeL2Until(l.l1Entries); err != nil {
		return err
	}
	buf := q.cluster
	for c := int64(0); c < l.l1Clusters; c++ {
		clear(buf)
		for i := int64(0); i < l.l2Entries && c*l.l2Entries+i < l.l1Entries; i++ {
			binary.BigEndian.PutUint64(buf[i*8:], q.l1[c*l.l2Entries+i])
		}
		if _, err := q.w.WriteAt(buf, l.l1Off+c*l.cs); err != nil {
			return fmt.Errorf("write qcow2 L1 table: %w", err)
		}
	}
	used := l.metaClusters + q.dataClusters
	for k := int64(0); k < l.refblocks; k++ {
		l.refblock(buf, k, used)
		if _, err := q.w.WriteAt(buf, l.refblockOff+k*l.cs); err != nil {
			return fmt.Errorf("write qcow2 refcount block %d: %w", k, err)
		}
	}
	for c := int64(0); c < l.reftableClusters; c++ {
		clear(buf)
		for i := int64(0); i < l.l2Entries && c*l.l2Entries+i < l.refblocks; i++ {
			binary.BigEndian.PutUint64(buf[i*8:], uint64(l.refblockOff+(c*l.l2Entries+i)*l.cs))
		}
		if _, err := q.w.WriteAt(buf, l.reftableOff+c*l.cs); err != nil {
			return fmt.Errorf("write qcow2 refcount table: %w", err)
		}
	}
	l.header(buf)
	if _, err := q.w.WriteAt(buf, 0); err != nil {
		return fmt.Errorf("write qcow2 header: %w", err)
	}
	return nil
}
