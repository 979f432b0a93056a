package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of a data key and of a key-encryption key.
const KeySize = 32

// wrapMagic starts a wrapped data key; wrapVersion follows it.
var wrapMagic = [4]byte{'v', 'm', 'r', 'K'}

const (
	wrapVersion = 1
	nonceSize   = 12
	tagSize     = 16
	// WrappedSize is the length of a wrapped data key.
	WrappedSize = len(wrapMagic) + 1 + nonceSize + KeySize + tagSize
)

// ErrWrongKey says a key-encryption key does not open a wrapped data key:
// it is another key, or the wrapped key was altered.
var ErrWrongKey = errors.New("the key-encryption key does not open the store's data key")

// NewDataKey returns a fresh random data key.
func NewDataKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic(fmt.Sprintf("seal: reading random bytes: %v", err)) // crypto/rand never fails on Linux
	}
	return k
}

// Wrap seals dataKey under kek; aad binds the result to its owner (the
// store ID), so that a wrapped key moved to another store does not open.
func Wrap(kek, dataKey, aad []byte) ([]byte, error) {
	if len(kek) != KeySize || len(dataKey) != KeySize {
		return nil, fmt.Errorf("wrap key: want %d-byte keys", KeySize)
	}
	gcm, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, WrappedSize)
	out = append(out, wrapMagic[:]...)
	out = append(out, wrapVersion)
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return gcm.Seal(out, nonce, dataKey, wrapAAD(aad)), nil
}

// Unwrap opens a key Wrap sealed; a wrong kek or altered bytes give an
// error matching ErrWrongKey, malformed bytes another one-line error.
func Unwrap(kek, wrapped, aad []byte) ([]byte, error) {
	if len(kek) != KeySize {
		return nil, fmt.Errorf("unwrap key: want a %d-byte key-encryption key", KeySize)
	}
	if len(wrapped) != WrappedSize {
		return nil, fmt.Errorf("wrapped data key: %d bytes, want %d", len(wrapped), WrappedSize)
	}
	if [4]byte(wrapped[:4]) != wrapMagic {
		return nil, errors.New("wrapped data key: bad magic")
	}
	if wrapped[4] != wrapVersion {
		return nil, fmt.Errorf("wrapped data key: unknown version %d", wrapped[4])
	}
	gcm, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	nonce := wrapped[5 : 5+nonceSize]
	key, err := gcm.Open(nil, nonce, wrapped[5+nonceSize:], wrapAAD(aad))
	if err != nil {
		return nil, ErrWrongKey
	}
	return key, nil
}

func wrapAAD(aad []byte) []byte {
	return append([]byte("vmrep data key v1\x00"), aad...)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// ParseKEK reads a key-encryption key as a key file, VMREP_KEK or a key
// command gives it: 64 hex digits (surrounding white space ignored) or
// exactly 32 raw bytes.
func ParseKEK(b []byte) ([]byte, error) {
	if s := strings.TrimSpace(string(b)); len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	if len(b) == KeySize {
		return append([]byte(nil), b...), nil
	}
	return nil, fmt.Errorf("want %d hex digits or %d raw bytes, got %d bytes", 2*KeySize, KeySize, len(b))
}
