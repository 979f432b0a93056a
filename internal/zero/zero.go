// Package zero answers whether bytes are all zero, the test ingest, export,
// delta export and replica checks run on every block they see. It imports
// nothing of the project.
package zero

// block is compared against: a string comparison of equal lengths is a
// vectorised memequal, many times faster than a byte loop.
var block [64 << 10]byte

// Is reports whether b holds only zero bytes. Most data blocks differ from
// zero in their first or last byte, so the common case returns at once.
func Is(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if b[0] != 0 || b[len(b)-1] != 0 {
		return false
	}
	for len(b) >= len(block) {
		if string(b[:len(block)]) != string(block[:]) {
			return false
		}
		b = b[len(block):]
	}
	return string(b) == string(block[:len(b)])
}

// First is the index of b's first non-zero byte, or -1 when there is none.
func First(b []byte) int {
	for off := 0; off < len(b); off += len(block) {
		end := min(off+len(block), len(b))
		if Is(b[off:end]) {
			continue
		}
		for i, c := range b[off:end] {
			if c != 0 {
				return off + i
			}
		}
	}
	return -1
}
