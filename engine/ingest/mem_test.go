package ingest

import (
	"context"
	"io"

	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/internal/zero"
)

// memSource is a volume in memory whose Allocated ranges are given by the
// test, so the same bytes can be presented as sparse or dense.
type memSource struct {
	data  []byte
	alloc []source.Range // nil: the whole volume
	reads int64
}

func (s *memSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(s.data)) {
		return 0, io.EOF
	}
	n := copy(p, s.data[off:])
	s.reads += int64(n)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (s *memSource) Size() int64    { return int64(len(s.data)) }
func (s *memSource) Format() string { return "mem" }
func (s *memSource) Close() error   { return nil }

func (s *memSource) Allocated(ctx context.Context, fn func(source.Range) error) error {
	if s.alloc == nil {
		return fn(source.Range{Off: 0, Len: int64(len(s.data))})
	}
	for _, r := range s.alloc {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// allocatedOf returns the ranges of data that hold a non-zero byte, at the
// given granularity, as a file system would report them.
func allocatedOf(data []byte, gran int) []source.Range {
	var out []source.Range
	for off := 0; off < len(data); off += gran {
		end := min(off+gran, len(data))
		if zero.Is(data[off:end]) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Off+out[n-1].Len == int64(off) {
			out[n-1].Len += int64(end - off)
			continue
		}
		out = append(out, source.Range{Off: int64(off), Len: int64(end - off)})
	}
	return out
}
