package cas

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/vmrep/vmrep/engine/seal"
)

// EncryptionAES256GCM is Config.Encryption of a sealed store.
const EncryptionAES256GCM = "aes-256-gcm"

// ErrKeyRequired says an encrypted store was opened without its
// key-encryption key.
var ErrKeyRequired = errors.New("the store is encrypted and no key-encryption key was given")

// ErrNotEncrypted says a key-encryption key was given for a plain store:
// a store is never half sealed.
var ErrNotEncrypted = errors.New("the store is not encrypted; refusing to open it with a key-encryption key")

func (c Config) validateEncryption() error {
	switch c.Encryption {
	case "":
		if c.DataKey != "" {
			return errors.New("data_key set in a store without encryption")
		}
		return nil
	case EncryptionAES256GCM:
		if _, err := c.wrappedKey(); err != nil {
			return err
		}
		return nil
	}
	return fmt.Errorf("unknown encryption %q", c.Encryption)
}

func (c Config) wrappedKey() ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(c.DataKey)
	if err != nil || len(b) != seal.WrappedSize {
		return nil, fmt.Errorf("bad data_key: want %d base64-encoded bytes", seal.WrappedSize)
	}
	return b, nil
}

// WithEncryption returns c made an encrypted store's config: a fresh data
// key wrapped by kek. Init or InitBackend then create the store.
func (c Config) WithEncryption(kek []byte) (Config, error) {
	if c.Encryption != "" {
		return c, errors.New("store config is already encrypted")
	}
	return c.withDataKey(kek, seal.NewDataKey())
}

func (c Config) withDataKey(kek, dataKey []byte) (Config, error) {
	w, err := seal.Wrap(kek, dataKey, []byte(c.ID))
	if err != nil {
		return c, err
	}
	c.Encryption = EncryptionAES256GCM
	c.DataKey = base64.StdEncoding.EncodeToString(w)
	return c, nil
}

// dataKey unwraps c's data key with kek.
func (c Config) dataKey(kek []byte) ([]byte, error) {
	w, err := c.wrappedKey()
	if err != nil {
		return nil, err
	}
	return seal.Unwrap(kek, w, []byte(c.ID))
}

// sameStore reports whether a and b describe one store: equal but for
// the wrapped data key, which a key rotation on another machine sharing
// the backend changes (the backend's copy is the one that counts).
func sameStore(a, b Config) bool {
	a.DataKey, b.DataKey = "", ""
	return a == b
}

// storeKeys returns the sealing keys of a store with config cfg (its
// backend's copy where it has one) for kek; nil for a plain store opened
// without a key.
func storeKeys(cfg Config, kek []byte) (*seal.Keys, error) {
	switch {
	case cfg.Encryption == "" && kek == nil:
		return nil, nil
	case cfg.Encryption == "":
		return nil, ErrNotEncrypted
	case kek == nil:
		return nil, ErrKeyRequired
	}
	dk, err := cfg.dataKey(kek)
	if err != nil {
		return nil, err
	}
	return seal.NewKeys(dk)
}
