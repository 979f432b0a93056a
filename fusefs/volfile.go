package fusefs

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// volFile is one volume of one snapshot as a disk image file.
type volFile struct {
	fs.Inode
	v       *view
	vs      volume.VolumeSnapshot
	created time.Time

	mu struct {
		sync.Mutex
		m *volume.Manifest // loaded on first open; nil until then
	}
}

var (
	_ = (fs.NodeOpener)((*volFile)(nil))
	_ = (fs.NodeReader)((*volFile)(nil))
	_ = (fs.NodeGetattrer)((*volFile)(nil))
)

func (f *volFile) fill(a *fuse.Attr) {
	a.Mode = fuse.S_IFREG | 0o444
	a.Size = uint64(f.vs.Size)
	a.Blocks = (uint64(f.vs.Size) + 511) / 512
	a.Blksize = 1 << 20 // invites large reads
	setTimes(a, f.created)
}

func (f *volFile) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.fill(&out.Attr)
	out.SetTimeout(fileTimeout)
	return 0
}

// manifest loads the top page once; a failed load is tried again on the
// next open.
func (f *volFile) manifest(ctx context.Context) (*volume.Manifest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.m != nil {
		return f.mu.m, nil
	}
	m, err := volume.LoadManifest(ctx, f.v.r, f.vs.Manifest)
	if err != nil {
		return nil, err
	}
	if m.Size != f.vs.Size {
		return nil, fmt.Errorf("volume %q manifest %s: %w: size %d, snapshot says %d",
			f.vs.Name, f.vs.Manifest.Short(), volume.ErrMalformed, m.Size, f.vs.Size)
	}
	f.mu.m = m
	return m, nil
}

// volHandle is one open of a volFile; it tracks where the last read ended
// to tell sequential from random access.
type volHandle struct {
	m  *volume.Manifest
	mu sync.Mutex
	// next is the offset just past the last read; streak counts reads that
	// continued from it.
	next   int64
	streak int
}

// sequential records a read of [off, end) and reports whether it continues
// a sequential stream. The kernel issues read-ahead requests concurrently,
// so they may arrive a little out of order: within a window of next counts.
func (h *volHandle) sequential(off, end int64) bool {
	const window = 2 << 20
	h.mu.Lock()
	defer h.mu.Unlock()
	if off >= h.next-window && off <= h.next+window {
		h.streak++
		h.next = max(h.next, end)
	} else {
		h.streak = 0
		h.next = end
	}
	// The first read of a file (at offset 0) counts as a start, so a stream
	// is recognised on its second read.
	return h.streak >= 2
}

func (f *volFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EROFS
	}
	m, err := f.manifest(ctx)
	if err != nil {
		return nil, 0, toErrno(f.v.log, "open "+f.vs.Name+imgSuffix, err)
	}
	// Snapshots never change, so what the kernel cached stays valid.
	return &volHandle{m: m}, fuse.FOPEN_KEEP_CACHE, 0
}

func (f *volFile) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := fh.(*volHandle)
	if !ok {
		return nil, syscall.EBADF
	}
	r, err := f.v.readAt(ctx, h, len(dest), off)
	if err != nil {
		if f.v.onRead != nil {
			f.v.onRead(0, err)
		}
		return nil, toErrno(f.v.log, fmt.Sprintf("read %s%s at %d+%d", f.vs.Name, imgSuffix, off, len(dest)), err)
	}
	if f.v.onRead != nil {
		f.v.onRead(r.Size(), nil)
	}
	return r, 0
}

// readAt answers a read of size bytes at offset off of h's volume with a
// reply that points into the chunk cache (shorter than size only at the end
// of the volume). The caller hands the reply to go-fuse, which releases it.
func (v *view) readAt(ctx context.Context, h *volHandle, size int, off int64) (*readReply, error) {
	m := h.m
	if off < 0 || size < 0 {
		return nil, syscall.EINVAL
	}
	r := newReadReply(v.chunks)
	if off >= m.Size {
		return r, nil
	}
	n := int(min(int64(size), m.Size-off))
	ahead := 0
	seq := h.sequential(off, off+int64(n))
	if seq {
		ahead = v.readAhead
	}
	if err := v.plan(ctx, m, off, int64(n), ahead); err != nil {
		r.Done()
		return nil, err
	}
	if err := v.fill(ctx, m, r, off, n, seq); err != nil {
		r.Done()
		return nil, err
	}
	return r, nil
}

// fill appends [off, off+n) of m to r: zeros for holes, cached chunks for
// data. In a sequential stream, a chunk copied up to its end is marked used
// (see chunkEntry.used).
func (v *view) fill(ctx context.Context, m *volume.Manifest, r *readReply, off int64, n int, seq bool) error {
	done := 0
	for done < n {
		pos := off + int64(done)
		p, err := v.pages.get(ctx, v.r, m, m.FindPage(pos))
		if err != nil {
			return err
		}
		for j := p.Find(pos); j >= 0 && j < len(p.Entries) && done < n; j++ {
			e := p.Entries[j]
			within := pos - p.Offsets[j]
			k := int(min(e.Length-within, int64(n-done)))
			if e.Hole {
				r.zero(k)
			} else {
				ce, err := v.chunks.get(ctx, e.ID, v.load)
				if err != nil {
					return fmt.Errorf("volume offset %d: %w", pos, err)
				}
				if got := int64(len(ce.data)); got != e.Length {
					v.chunks.release(ce)
					return &blob.Error{ID: e.ID, Type: blob.Chunk, Err: fmt.Errorf("%w: %d bytes, manifest says %d", blob.ErrCorrupt, got, e.Length)}
				}
				if seq && within+int64(k) == e.Length {
					ce.used.Store(true)
				}
				r.chunk(ce, ce.data[within:within+int64(k)])
			}
			done += k
			pos += int64(k)
		}
	}
	return nil
}

func (v *view) load(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) {
	return v.r.Get(ctx, id, buf)
}

// planBatch is how many chunk IDs plan gathers before handing them to the
// workers; a fixed array keeps the read path free of allocations.
const planBatch = 32

// plan hands the chunks of [off, off+n) plus ahead chunks after it to the
// prefetch workers, so that a large read and the read-ahead fetch in
// parallel instead of one chunk after another. Chunks already cached or
// loading are skipped by schedule.
func (v *view) plan(ctx context.Context, m *volume.Manifest, off, n int64, ahead int) error {
	end := off + n
	var batch [planBatch]blob.ID
	ids := batch[:0]
	pos := off
	extra := 0
	sent := false
	for pos < m.Size && (pos < end || extra < ahead) {
		p, err := v.pages.get(ctx, v.r, m, m.FindPage(pos))
		if err != nil {
			if pos >= end {
				break // read-ahead only; the read itself can go on
			}
			return err
		}
		j := p.Find(pos)
		for ; j >= 0 && j < len(p.Entries) && (pos < end || extra < ahead); j++ {
			e := p.Entries[j]
			if p.Offsets[j] >= end {
				extra++
			}
			if !e.Hole {
				if len(ids) == planBatch {
					v.prefetch.schedule(ids)
					ids, sent = ids[:0], true
				}
				ids = append(ids, e.ID)
			}
			pos = p.Offsets[j] + e.Length
		}
	}
	// A read of one chunk gains nothing from a worker.
	if sent || len(ids) > 1 || ahead > 0 {
		v.prefetch.schedule(ids)
	}
	return nil
}
