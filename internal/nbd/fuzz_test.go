package nbd

import (
	"bytes"
	"io"
	"testing"
)

// FuzzReadData feeds the READ reply decoder any bytes: it must not panic,
// and a reply it accepts covers the request exactly.
func FuzzReadData(f *testing.F) {
	f.Add(append(dataChunk(false, 100, []byte("abcd")), holeChunk(true, 104, 4)...))
	f.Add(dataChunk(true, 100, []byte("abcdefgh")))
	f.Add(chunk(replyFlagDone, chunkError, 1, []byte{0, 0, 0, 5, 0, 3, 'b', 'a', 'd'}))
	f.Fuzz(func(t *testing.T, wire []byte) {
		p := make([]byte, 8)
		rr := &replyReader{r: bytes.NewReader(wire), cookie: 1, structured: true}
		rr.readData(p, 100)
	})
}

// FuzzReadStatus does the same for BLOCK_STATUS replies: accepted extents
// are in order, non-empty and inside the request.
func FuzzReadStatus(f *testing.F) {
	f.Add(append(statusChunk(false, 1, 4096, 0), statusChunk(true, 2, 4096, 3, 8192, 0)...))
	f.Add(statusChunk(true, 2, 0, 0))
	f.Fuzz(func(t *testing.T, wire []byte) {
		rr := &replyReader{r: bytes.NewReader(wire), cookie: 1, structured: true}
		pos := int64(1000)
		rr.readStatus(2, 1000, 5000, func(e Extent) error {
			if e.Off != pos || e.Length <= 0 || e.Off+e.Length > 6000 {
				t.Fatalf("extent %+v at %d", e, pos)
			}
			pos += e.Length
			return nil
		})
	})
}

// FuzzHandshake feeds the handshake any server bytes.
func FuzzHandshake(f *testing.F) {
	f.Add(server(1<<30, map[string]uint32{"base:allocation": 7}))
	f.Add(server(4096, nil))
	f.Fuzz(func(t *testing.T, wire []byte) {
		ex, err := handshake(rw{bytes.NewReader(wire), io.Discard}, "boot", []string{"base:allocation"})
		if err == nil && (ex.size < 0 || ex.size > 1<<62) {
			t.Fatalf("accepted size %d", ex.size)
		}
	})
}
