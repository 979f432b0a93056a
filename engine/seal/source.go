package seal

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Source-side sealing: a source seals each chunk under a key the
// replication server never stores, so the server keeps ciphertext it cannot
// read. A sealed chunk is deterministic (the nonce is a keyed MAC of what
// it seals, a synthetic IV), so the same chunk seals to the same bytes and
// the server still deduplicates by the sealed bytes' hash.

// sourceMagic starts a chunk sealed by its source; sourceVersion follows.
var sourceMagic = [4]byte{'v', 'm', 'r', 'C'}

const (
	sourceVersion = 1
	sourceHeader  = len(sourceMagic) + 1 + nonceSize
	// innerHeader is the plaintext ID, the codec and the raw length that
	// precede a chunk's stored bytes inside the seal.
	innerHeader = 32 + 1 + 4
	// SourceOverhead is what sealing adds to a chunk's stored bytes.
	SourceOverhead = sourceHeader + innerHeader + tagSize
)

// ErrSourceSeal says a sealed chunk does not open under the key given: it
// was sealed under another key or tenancy, or it was altered.
var ErrSourceSeal = errors.New("sealed chunk does not open under this key (another key, or damaged)")

// SourceKeys seal and open chunks for one tenancy under a source key.
type SourceKeys struct {
	aead cipher.AEAD
	siv  []byte // HMAC key of the synthetic nonce
	tag  []byte // HMAC key of volume tags
	fp   string
}

// SourceChunk is what a sealed chunk holds: the chunk's ID (the hash of
// its raw bytes) and its stored form (Data encoded with Codec, Raw bytes
// once decoded).
type SourceChunk struct {
	ID    [32]byte
	Codec uint8
	Raw   uint32
	Data  []byte
}

// NewSourceKeys derives the keys that seal chunks for tenancy under key
// (KeySize bytes). A key sealed for one tenancy does not open another's.
func NewSourceKeys(key []byte, tenancy string) (*SourceKeys, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("source key: %d bytes, want %d", len(key), KeySize)
	}
	if tenancy == "" {
		return nil, errors.New("source key: no tenancy")
	}
	derive := func(purpose string) ([]byte, error) {
		return hkdf.Key(sha256.New, key, nil, "vmrep source seal v1 "+purpose+"\x00"+tenancy, KeySize)
	}
	ek, err := derive("chunk")
	if err != nil {
		return nil, err
	}
	k := &SourceKeys{}
	if k.aead, err = newGCM(ek); err != nil {
		return nil, err
	}
	if k.siv, err = derive("nonce"); err != nil {
		return nil, err
	}
	if k.tag, err = derive("volume tag"); err != nil {
		return nil, err
	}
	fk, err := derive("fingerprint")
	if err != nil {
		return nil, err
	}
	k.fp = FingerprintPrefix + hex.EncodeToString(fk[:8])
	return k, nil
}

// FingerprintPrefix starts every fingerprint: the scheme (HMAC-SHA256
// synthetic nonce, AES-256-GCM) and its version.
const FingerprintPrefix = "vmrep-seal-v1:"

// ParseSourceKey reads a source key as its file holds it: exactly 64 hex
// digits (white space around them ignored). Unlike a key-encryption key,
// 32 raw bytes are refused, so a typed passphrase never becomes a key.
func ParseSourceKey(b []byte) ([]byte, error) {
	s := strings.TrimSpace(string(b))
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != KeySize {
		return nil, fmt.Errorf("want %d hex digits (e.g. head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'), got %d characters", 2*KeySize, len(s))
	}
	return k, nil
}

// VolumeTag binds a sealed volume's manifest (the ID of its top page,
// which hashes every page and so every sealed chunk's ID in order) to the
// snapshot and volume it belongs to, under a key the server lacks: a
// server or bucket that swaps, drops or moves sealed chunks changes the
// manifest and cannot make the tag that goes with it.
func (k *SourceKeys) VolumeTag(snapshotID, volumeID string, manifest [32]byte, size int64) string {
	mac := hmac.New(sha256.New, k.tag)
	var n [8]byte
	for _, s := range []string{snapshotID, volumeID} {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		mac.Write(n[:])
		mac.Write([]byte(s))
	}
	mac.Write(manifest[:])
	binary.LittleEndian.PutUint64(n[:], uint64(size))
	mac.Write(n[:])
	return hex.EncodeToString(mac.Sum(nil))
}

// CheckVolumeTag reports whether tag is VolumeTag of the same arguments.
func (k *SourceKeys) CheckVolumeTag(tag, snapshotID, volumeID string, manifest [32]byte, size int64) bool {
	return hmac.Equal([]byte(tag), []byte(k.VolumeTag(snapshotID, volumeID, manifest, size)))
}

// Fingerprint names the key and tenancy without revealing the key: a
// snapshot records it, so hydration can refuse a wrong key before it
// reads anything.
func (k *SourceKeys) Fingerprint() string { return k.fp }

// IsSourceSealed reports whether b starts like a chunk sealed by a source.
func IsSourceSealed(b []byte) bool {
	return len(b) >= SourceOverhead && bytes.Equal(b[:len(sourceMagic)], sourceMagic[:])
}

// SealChunk appends c sealed to dst[:0].
func (k *SourceKeys) SealChunk(dst []byte, c SourceChunk) []byte {
	n := SourceOverhead + len(c.Data)
	if cap(dst) < n {
		dst = make([]byte, 0, n)
	}
	out := dst[:sourceHeader+innerHeader+len(c.Data)]
	inner := out[sourceHeader:]
	copy(inner, c.ID[:])
	inner[32] = c.Codec
	binary.LittleEndian.PutUint32(inner[33:37], c.Raw)
	copy(inner[innerHeader:], c.Data)
	mac := hmac.New(sha256.New, k.siv)
	mac.Write(inner)
	nonce := mac.Sum(nil)[:nonceSize]
	copy(out, sourceMagic[:])
	out[len(sourceMagic)] = sourceVersion
	copy(out[len(sourceMagic)+1:sourceHeader], nonce)
	// Seal in place: the plaintext already lies where the ciphertext goes.
	sealed := k.aead.Seal(inner[:0], nonce, inner, out[:len(sourceMagic)+1])
	return out[:sourceHeader+len(sealed)]
}

// OpenChunk opens a sealed chunk. The returned Data aliases buf's storage
// when it is large enough. Any alteration, or another key or tenancy,
// fails with ErrSourceSeal; nothing unauthenticated is returned.
func (k *SourceKeys) OpenChunk(sealed, buf []byte) (SourceChunk, error) {
	if !IsSourceSealed(sealed) {
		return SourceChunk{}, fmt.Errorf("%w: not a sealed chunk", ErrSourceSeal)
	}
	if v := sealed[len(sourceMagic)]; v != sourceVersion {
		return SourceChunk{}, fmt.Errorf("%w: version %d", ErrSourceSeal, v)
	}
	nonce := sealed[len(sourceMagic)+1 : sourceHeader]
	inner, err := k.aead.Open(buf[:0], nonce, sealed[sourceHeader:], sealed[:len(sourceMagic)+1])
	if err != nil || len(inner) < innerHeader {
		return SourceChunk{}, ErrSourceSeal
	}
	// A nonce is the MAC of what it seals; one that is not was not made
	// by SealChunk (and would break determinism), so it is refused too.
	mac := hmac.New(sha256.New, k.siv)
	mac.Write(inner)
	if !hmac.Equal(mac.Sum(nil)[:nonceSize], nonce) {
		return SourceChunk{}, ErrSourceSeal
	}
	var c SourceChunk
	copy(c.ID[:], inner[:32])
	c.Codec = inner[32]
	c.Raw = binary.LittleEndian.Uint32(inner[33:37])
	c.Data = inner[innerHeader:]
	return c, nil
}
