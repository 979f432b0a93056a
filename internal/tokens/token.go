package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// A token's string form is Prefix + ID + "_" + secret: the ID (16 hex
// digits) is public and names the token in the store, in logs and in
// `server tokens list`; the secret (64 hex digits, 256 random bits) is
// known only to the client and lies in the store as a hash.
const (
	Prefix    = "vmrep_"
	idLen     = 16
	secretLen = 64
	// Len is the length of a token's string form.
	Len = len(Prefix) + idLen + 1 + secretLen
)

// ErrMalformed says a presented string is not a token's string form.
var ErrMalformed = errors.New("tokens: malformed token")

// Parse splits a token's string form into its ID and secret.
func Parse(s string) (id, secret string, err error) {
	if len(s) != Len || !strings.HasPrefix(s, Prefix) || s[len(Prefix)+idLen] != '_' {
		return "", "", ErrMalformed
	}
	id, secret = s[len(Prefix):len(Prefix)+idLen], s[len(Prefix)+idLen+1:]
	if !isLowerHex(id) || !isLowerHex(secret) {
		return "", "", ErrMalformed
	}
	return id, secret, nil
}

// ValidID says whether id is a token ID's form.
func ValidID(id string) bool { return len(id) == idLen && isLowerHex(id) }

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// New makes a fresh token: its string form, to hand to the client once,
// and its ID and hash, to keep in the store.
func New() (token, id, hash string) {
	var b [idLen/2 + secretLen/2]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	id = hex.EncodeToString(b[:idLen/2])
	secret := hex.EncodeToString(b[idLen/2:])
	return Prefix + id + "_" + secret, id, hashSecret(id, secret)
}

// hashSecret is what the store keeps of a token: SHA-256 over a domain
// label, the ID and the secret. The ID is bound in so that an entry's hash
// cannot be moved to another ID. The secret has 256 random bits, so a fast
// hash suffices (no password stretching needed).
func hashSecret(id, secret string) string {
	h := sha256.New()
	h.Write([]byte("vmrep-token-v1\x00"))
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(secret))
	return hex.EncodeToString(h.Sum(nil))
}
