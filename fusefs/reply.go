package fusefs

import (
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// zeros backs the hole parts of read replies. It is never written, so it
// stays the kernel's shared zero page and costs no memory.
var zeros [maxRead]byte

// readReply is a read's answer as slices of cached chunks and of zeros.
// go-fuse hands the slices to writev on /dev/fuse (it recognises the
// Slices method), so the bytes go from the chunk cache into the kernel
// without a copy in between. The reply holds a reference on every chunk it
// points into until go-fuse calls Done after the write, so that no buffer
// is recycled while the kernel may still read it.
type readReply struct {
	c    *chunkCache
	vecs [][]byte
	refs []*chunkEntry
	size int
}

// replies recycles readReply values, so that a read allocates nothing.
var replies = sync.Pool{New: func() any { return new(readReply) }}

var _ fuse.ReadResult = (*readReply)(nil)

func newReadReply(c *chunkCache) *readReply {
	r := replies.Get().(*readReply)
	r.c = c
	return r
}

// chunk appends part of a chunk entry, taking over the caller's reference.
func (r *readReply) chunk(e *chunkEntry, part []byte) {
	r.refs = append(r.refs, e)
	r.vecs = append(r.vecs, part)
	r.size += len(part)
}

// zero appends n zero bytes.
func (r *readReply) zero(n int) {
	r.size += n
	for n > 0 {
		k := min(n, len(zeros))
		r.vecs = append(r.vecs, zeros[:k])
		n -= k
	}
}

// Size is the reply's length in bytes.
func (r *readReply) Size() int { return r.size }

// Slices returns the parts of the reply for a vectored write.
func (r *readReply) Slices() ([][]byte, fuse.Status) { return r.vecs, fuse.OK }

// Bytes joins the parts into buf, for the transports that cannot write
// vectors.
func (r *readReply) Bytes(buf []byte) ([]byte, fuse.Status) {
	buf = buf[:0]
	for _, v := range r.vecs {
		buf = append(buf, v...)
	}
	return buf, fuse.OK
}

// Done drops the chunk references and recycles the reply. go-fuse calls
// it once the reply is written or abandoned; the reply must not be used
// after.
func (r *readReply) Done() {
	if r.c == nil {
		return // already done
	}
	r.c.releaseAll(r.refs)
	clear(r.refs)
	clear(r.vecs) // no stale pointers keep recycled buffers alive
	r.refs, r.vecs, r.size, r.c = r.refs[:0], r.vecs[:0], 0, nil
	replies.Put(r)
}
