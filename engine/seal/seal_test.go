package seal

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

func testKeys(t testing.TB) *Keys {
	k, err := NewKeys(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sealBytes(t testing.TB, k *Keys, plain, id []byte) []byte {
	var buf bytes.Buffer
	if err := k.Seal(&buf, bytes.NewReader(plain), int64(len(plain)), id); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readSealed(k *Keys, sealed, id, p []byte, off int64) error {
	h, err := ParseHeader(sealed)
	if err != nil {
		return err
	}
	return k.ReadAt(func(b []byte, o int64) error {
		if o+int64(len(b)) > int64(len(sealed)) {
			return io.ErrUnexpectedEOF
		}
		copy(b, sealed[o:])
		return nil
	}, h, id, p, off)
}

// TestSealRanges reads random ranges of sealed files of sizes around the
// segment boundaries and compares them with the plaintext.
func TestSealRanges(t *testing.T) {
	k := testKeys(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 100, SegmentSize - 1, SegmentSize, SegmentSize + 1, 3*SegmentSize + 17, 4 * SegmentSize} {
		plain := make([]byte, size)
		for i := range plain {
			plain[i] = byte(rng.Uint32())
		}
		id := []byte("pack x")
		sealed := sealBytes(t, k, plain, id)
		if int64(len(sealed)) != SealedSize(int64(size)) {
			t.Fatalf("size %d: sealed %d bytes, SealedSize says %d", size, len(sealed), SealedSize(int64(size)))
		}
		if n, ok := PlainSize(int64(len(sealed))); !ok || n != int64(size) {
			t.Fatalf("size %d: PlainSize(%d) = %d, %v", size, len(sealed), n, ok)
		}
		if bytes.Contains(sealed, plain[:min(size, 64)]) && size >= 16 {
			t.Fatalf("size %d: plaintext shows in the sealed file", size)
		}
		for range 50 {
			if size == 0 {
				break
			}
			off := rng.IntN(size)
			n := rng.IntN(size - off + 1)
			p := make([]byte, n)
			if err := readSealed(k, sealed, id, p, int64(off)); err != nil {
				t.Fatalf("size %d read %d at %d: %v", size, n, off, err)
			}
			if !bytes.Equal(p, plain[off:off+n]) {
				t.Fatalf("size %d read %d at %d: wrong bytes", size, n, off)
			}
		}
		if err := readSealed(k, sealed, id, make([]byte, 1), int64(size)); err == nil {
			t.Fatalf("size %d: a read past the end succeeded", size)
		}
	}
}

// TestSealFlippedBit flips each of many bits of a sealed file: a read of
// the whole file fails with ErrAuth (or a header error), never wrong bytes.
func TestSealFlippedBit(t *testing.T) {
	k := testKeys(t)
	plain := bytes.Repeat([]byte("marker "), 3*SegmentSize/7)
	id := []byte("pack y")
	sealed := sealBytes(t, k, plain, id)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		bad := bytes.Clone(sealed)
		bit := rng.IntN(len(bad) * 8)
		bad[bit/8] ^= 1 << (bit % 8)
		p := make([]byte, len(plain))
		err := readSealed(k, bad, id, p, 0)
		if err == nil {
			t.Fatalf("bit %d flipped: read succeeded", bit)
		}
		if bit/8 >= HeaderSize && !errors.Is(err, ErrAuth) {
			t.Fatalf("bit %d flipped: %v, want ErrAuth", bit, err)
		}
	}
	// Another identity (a segment moved to another file) fails too.
	if err := readSealed(k, sealed, []byte("pack z"), make([]byte, 10), 0); !errors.Is(err, ErrAuth) {
		t.Fatalf("read under another identity: %v, want ErrAuth", err)
	}
}

func TestWrap(t *testing.T) {
	kek, other := NewDataKey(), NewDataKey()
	dk := NewDataKey()
	w, err := Wrap(kek, dk, []byte("store 1"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unwrap(kek, w, []byte("store 1"))
	if err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
	if _, err := Unwrap(other, w, []byte("store 1")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Unwrap with another kek: %v", err)
	}
	if _, err := Unwrap(kek, w, []byte("store 2")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Unwrap for another store: %v", err)
	}
}

func TestNames(t *testing.T) {
	k := testKeys(t)
	var real [32]byte
	real[0] = 1
	s := k.PackName(real)
	if s == real || k.RealPackName(s) != real {
		t.Fatalf("pack name %x -> %x -> %x", real, s, k.RealPackName(s))
	}
	other, _ := NewKeys(bytes.Repeat([]byte{8}, KeySize))
	if other.PackName(real) == s {
		t.Fatal("two keys give one sealed pack name")
	}
	for _, name := range []string{"vgs/vg-0123456789abcdef", "snapshots/x", string(bytes.Repeat([]byte("a"), MaxRecordName))} {
		sn, err := k.RecordName(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(sn) > 200 {
			t.Fatalf("sealed name of %d bytes is %d long", len(name), len(sn))
		}
		back, err := k.RealRecordName(sn)
		if err != nil || back != name {
			t.Fatalf("RealRecordName(RecordName(%q)) = %q, %v", name, back, err)
		}
		if _, err := other.RealRecordName(sn); err == nil {
			t.Fatalf("another key opened the sealed name of %q", name)
		}
	}
	a, _ := k.RecordName("vgs/a")
	b, _ := k.RecordName("vgs/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
	if len(a) != len(b) {
		t.Fatalf("sealed names of short names differ in length: %d, %d", len(a), len(b))
	}
	if _, err := k.RecordName(string(bytes.Repeat([]byte("a"), MaxRecordName+1))); err == nil {
		t.Fatal("a name too long was sealed")
	}
}

func TestParseKEK(t *testing.T) {
	hexKey := "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	if k, err := ParseKEK([]byte(hexKey)); err != nil || k[1] != 0x11 {
		t.Fatalf("hex: %x, %v", k, err)
	}
	if _, err := ParseKEK(bytes.Repeat([]byte{1}, 32)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "short", hexKey[:60]} {
		if _, err := ParseKEK([]byte(bad)); err == nil {
			t.Fatalf("ParseKEK(%q) succeeded", bad)
		}
	}
}
