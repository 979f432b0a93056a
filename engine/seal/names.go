package seal

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Pack names are 32-byte content hashes. PackName maps one to another 32
// bytes through a keyed permutation (a four-round Feistel network whose
// round function is HMAC-SHA256, a strong pseudorandom permutation): the
// sealed name has the shape of a pack name, so backends keep their layout,
// reveals nothing of the hash without the key, and inverts without a table.
const feistelRounds = 4

func (k *Keys) round(i int, half []byte) [16]byte {
	m := hmac.New(sha256.New, k.packName)
	m.Write([]byte{byte(i)})
	m.Write(half)
	var out [16]byte
	copy(out[:], m.Sum(nil))
	return out
}

// PackName maps a real pack name to its sealed name.
func (k *Keys) PackName(real [32]byte) [32]byte {
	l, r := [16]byte(real[:16]), [16]byte(real[16:])
	for i := range feistelRounds {
		f := k.round(i, r[:])
		subtle.XORBytes(f[:], f[:], l[:])
		l, r = r, f
	}
	return [32]byte(append(l[:], r[:]...))
}

// RealPackName inverts PackName.
func (k *Keys) RealPackName(sealed [32]byte) [32]byte {
	l, r := [16]byte(sealed[:16]), [16]byte(sealed[16:])
	for i := feistelRounds - 1; i >= 0; i-- {
		f := k.round(i, l[:])
		subtle.XORBytes(f[:], f[:], r[:])
		l, r = f, l
	}
	return [32]byte(append(l[:], r[:]...))
}

// Record names are sealed deterministically (a synthetic IV: the HMAC of
// the padded name, then AES-CTR under that IV), so that rewriting a record
// lands on the same sealed name, and encoded in unpadded base64url. Names
// are zero-padded to 64 bytes (or the next multiple of 16), so a reader
// learns no name length below that. The IV doubles as the tag: opening
// recomputes it.
const (
	minPaddedName = 64
	// MaxRecordName is the longest real record name RecordName takes; its
	// sealed name stays within the 200 characters stored names may have.
	MaxRecordName = 128
)

var nameEncoding = base64.RawURLEncoding

// RecordName seals a real record file name ("<dir>/<name>").
func (k *Keys) RecordName(real string) (string, error) {
	if real == "" || len(real) > MaxRecordName || strings.IndexByte(real, 0) >= 0 {
		return "", fmt.Errorf("record name %q cannot be sealed: want 1 to %d bytes and no NUL", real, MaxRecordName)
	}
	padded := make([]byte, max(minPaddedName, (len(real)+15)/16*16))
	copy(padded, real)
	iv := k.nameIV(padded)
	out := append(iv[:], padded...)
	cipher.NewCTR(k.nameEnc, iv[:]).XORKeyStream(out[16:], padded)
	return nameEncoding.EncodeToString(out), nil
}

// RealRecordName opens a name RecordName sealed.
func (k *Keys) RealRecordName(sealed string) (string, error) {
	b, err := nameEncoding.DecodeString(sealed)
	// The decoder skips '\r' and '\n'; a name is sealed in one spelling
	// only, so anything but RecordName's own encoding is refused.
	if err == nil && nameEncoding.EncodeToString(b) != sealed {
		err = errors.New("not canonical")
	}
	if err != nil || len(b) < 16+minPaddedName || (len(b)-16)%16 != 0 || len(b)-16 > max(minPaddedName, MaxRecordName) {
		return "", errors.New("not a sealed record name")
	}
	padded := make([]byte, len(b)-16)
	cipher.NewCTR(k.nameEnc, b[:16]).XORKeyStream(padded, b[16:])
	iv := k.nameIV(padded)
	if !hmac.Equal(iv[:], b[:16]) {
		return "", errors.New("sealed record name fails authentication")
	}
	real := strings.TrimRight(string(padded), "\x00")
	if real == "" {
		return "", errors.New("sealed record name is empty")
	}
	return real, nil
}

func (k *Keys) nameIV(padded []byte) [16]byte {
	m := hmac.New(sha256.New, k.nameMAC)
	m.Write(padded)
	return [16]byte(m.Sum(nil))
}
