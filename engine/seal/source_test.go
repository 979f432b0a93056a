package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func sourceKeys(t testing.TB, key byte, tenancy string) *SourceKeys {
	t.Helper()
	k, err := NewSourceKeys(bytes.Repeat([]byte{key}, KeySize), tenancy)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSourceSealRoundTripAndDeterminism(t *testing.T) {
	k := sourceKeys(t, 1, "acme")
	c := SourceChunk{ID: [32]byte{9, 8, 7}, Codec: 1, Raw: 4096, Data: []byte("compressed bytes of a chunk")}
	a := k.SealChunk(nil, c)
	b := k.SealChunk(make([]byte, 3, 1000), c)
	if !bytes.Equal(a, b) {
		t.Fatal("the same chunk sealed twice differs: the server could not deduplicate it")
	}
	if len(a) != len(c.Data)+SourceOverhead || !IsSourceSealed(a) {
		t.Fatalf("sealed %d bytes, want %d", len(a), len(c.Data)+SourceOverhead)
	}
	if bytes.Contains(a, c.Data) || bytes.Contains(a, c.ID[:3]) {
		t.Fatal("sealed chunk shows its plaintext or its ID")
	}
	got, err := k.OpenChunk(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.ID || got.Codec != c.Codec || got.Raw != c.Raw || !bytes.Equal(got.Data, c.Data) {
		t.Fatalf("opened %+v, want %+v", got, c)
	}
	other := c
	other.Data = []byte("other bytes of the same length!!!")
	if o := k.SealChunk(nil, other); bytes.Equal(o[5:17], a[5:17]) {
		t.Fatal("two different chunks got the same nonce")
	}
}

func TestSourceSealRefusals(t *testing.T) {
	k := sourceKeys(t, 1, "acme")
	sealed := k.SealChunk(nil, SourceChunk{ID: [32]byte{1}, Raw: 5, Data: []byte("hello")})
	for name, o := range map[string]*SourceKeys{"another key": sourceKeys(t, 2, "acme"), "another tenancy": sourceKeys(t, 1, "globex")} {
		if _, err := o.OpenChunk(sealed, nil); !errors.Is(err, ErrSourceSeal) {
			t.Errorf("%s opened the chunk: %v", name, err)
		}
	}
	if k.Fingerprint() == sourceKeys(t, 2, "acme").Fingerprint() || k.Fingerprint() == sourceKeys(t, 1, "globex").Fingerprint() {
		t.Error("fingerprints of different keys or tenancies are equal")
	}
	for i := range len(sealed) * 8 {
		b := bytes.Clone(sealed)
		b[i/8] ^= 1 << (i % 8)
		if _, err := k.OpenChunk(b, nil); !errors.Is(err, ErrSourceSeal) {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
	if _, err := k.OpenChunk(sealed[:len(sealed)-1], nil); !errors.Is(err, ErrSourceSeal) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := NewSourceKeys(make([]byte, 16), "acme"); err == nil {
		t.Error("a 16-byte key was taken")
	}
	if _, err := NewSourceKeys(make([]byte, KeySize), ""); err == nil {
		t.Error("no tenancy was taken")
	}
}

func TestParseSourceKeyAndVolumeTag(t *testing.T) {
	hexKey := strings.Repeat("ab", KeySize)
	if k, err := ParseSourceKey([]byte("  " + hexKey + "\n")); err != nil || len(k) != KeySize {
		t.Fatalf("hex key: %v", err)
	}
	for _, bad := range []string{"", strings.Repeat("a", KeySize), hexKey[:60], hexKey + "00", strings.Repeat("zz", KeySize)} {
		if _, err := ParseSourceKey([]byte(bad)); err == nil {
			t.Errorf("%q taken as a source key", bad)
		}
	}
	k := sourceKeys(t, 1, "acme")
	m := [32]byte{1, 2, 3}
	tag := k.VolumeTag("snap-1", "vol-1", m, 4096)
	if !k.CheckVolumeTag(tag, "snap-1", "vol-1", m, 4096) {
		t.Fatal("a tag does not check against its own arguments")
	}
	m2 := m
	m2[31] = 1
	for name, ok := range map[string]bool{
		"another manifest": k.CheckVolumeTag(tag, "snap-1", "vol-1", m2, 4096),
		"another snapshot": k.CheckVolumeTag(tag, "snap-2", "vol-1", m, 4096),
		"another volume":   k.CheckVolumeTag(tag, "snap-1", "vol-2", m, 4096),
		"another size":     k.CheckVolumeTag(tag, "snap-1", "vol-1", m, 8192),
		"ids run together": k.CheckVolumeTag(tag, "snap-1v", "ol-1", m, 4096),
		"another key":      sourceKeys(t, 2, "acme").CheckVolumeTag(tag, "snap-1", "vol-1", m, 4096),
	} {
		if ok {
			t.Errorf("%s: the tag checks", name)
		}
	}
}

func FuzzOpenChunk(f *testing.F) {
	k := sourceKeys(f, 3, "acme")
	f.Add(k.SealChunk(nil, SourceChunk{ID: [32]byte{4}, Raw: 3, Data: []byte("abc")}))
	f.Add([]byte("vmrC\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := k.OpenChunk(b, nil)
		if err != nil {
			return
		}
		if again := k.SealChunk(nil, c); !bytes.Equal(again, b) {
			t.Fatal("an opened chunk does not seal back to its bytes")
		}
	})
}
