package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// Keys are the subkeys of one store's data key, each for one purpose, so
// that no key serves two constructions.
type Keys struct {
	file     cipher.AEAD  // segments of sealed files
	packName []byte       // HMAC key of the pack-name permutation's rounds
	nameMAC  []byte       // synthetic IV of sealed record names
	nameEnc  cipher.Block // CTR encryption of sealed record names
}

// NewKeys derives the subkeys of dataKey.
func NewKeys(dataKey []byte) (*Keys, error) {
	if len(dataKey) != KeySize {
		return nil, fmt.Errorf("data key: %d bytes, want %d", len(dataKey), KeySize)
	}
	derive := func(purpose string) ([]byte, error) {
		return hkdf.Key(sha256.New, dataKey, nil, "vmrep seal v1 "+purpose, KeySize)
	}
	var k Keys
	fk, err := derive("file")
	if err != nil {
		return nil, err
	}
	if k.file, err = newGCM(fk); err != nil {
		return nil, err
	}
	if k.packName, err = derive("pack name"); err != nil {
		return nil, err
	}
	if k.nameMAC, err = derive("record name mac"); err != nil {
		return nil, err
	}
	ek, err := derive("record name enc")
	if err != nil {
		return nil, err
	}
	if k.nameEnc, err = aes.NewCipher(ek); err != nil {
		return nil, err
	}
	return &k, nil
}
