package blob

import (
	"encoding/hex"
	"fmt"

	"github.com/zeebo/blake3"
)

// ID names a blob: the BLAKE3-256 digest of its uncompressed bytes.
type ID [32]byte

// Sum returns the ID of data.
func Sum(data []byte) ID {
	return ID(blake3.Sum256(data))
}

// String returns the ID as 64 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hex digits, for messages.
func (id ID) Short() string { return hex.EncodeToString(id[:6]) }

// IsZero reports whether id is the zero value.
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses 64 hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, fmt.Errorf("blob: id %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("blob: id %q: %w", s, err)
	}
	return id, nil
}

// MarshalText encodes the ID as hex, so IDs read well in JSON records.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses hex.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
