package seal

import (
	"bytes"
	"testing"
)

// FuzzSealedFile feeds arbitrary bytes to the sealed file decoder: the
// header parse and a read of the whole file must fail cleanly (never a
// panic, never bytes for a file that was not sealed under this key).
func FuzzSealedFile(f *testing.F) {
	k := testKeys(f)
	f.Add(sealBytes(f, k, []byte("hello"), []byte("id")))
	f.Add(sealBytes(f, k, bytes.Repeat([]byte{1}, SegmentSize+3), []byte("id")))
	f.Add([]byte("vmrS\x01\x10\x00\x00\xff\xff\xff\xff\xff\xff\xff\x7f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, ok := PlainSize(int64(len(b))); ok && SealedSize(n) != int64(len(b)) {
			t.Fatalf("PlainSize(%d) = %d, but SealedSize(%d) = %d", len(b), n, n, SealedSize(n))
		}
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		if h.Size > 4*SegmentSize {
			return // the reader would only refuse a short read
		}
		p := make([]byte, h.Size)
		_ = readSealed(k, b, []byte("id"), p, 0)
	})
}

// FuzzUnwrap feeds arbitrary bytes to the wrapped key decoder and to
// ParseKEK.
func FuzzUnwrap(f *testing.F) {
	kek := bytes.Repeat([]byte{9}, KeySize)
	w, _ := Wrap(kek, NewDataKey(), []byte("s"))
	f.Add(w)
	f.Add([]byte("vmrK\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := Unwrap(kek, b, []byte("s")); err == nil && len(k) != KeySize {
			t.Fatalf("unwrapped a %d-byte key", len(k))
		}
		if k, err := ParseKEK(b); err == nil && len(k) != KeySize {
			t.Fatalf("ParseKEK gave a %d-byte key", len(k))
		}
	})
}

// FuzzRecordName feeds arbitrary strings to the sealed name decoder.
func FuzzRecordName(f *testing.F) {
	k := testKeys(f)
	s, _ := k.RecordName("vgs/vg-1")
	f.Add(s)
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		real, err := k.RealRecordName(s)
		if err != nil {
			return
		}
		again, err := k.RecordName(real)
		if err != nil || again != s {
			t.Fatalf("opened %q as %q, which seals to %q (%v)", s, real, again, err)
		}
	})
}
