package tokens

import (
	"bytes"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync/atomic"
	"time"
)

// Scopes, ordered: admin includes replicate, replicate includes read. The
// daemon's ReplScope uses the same strings.
const (
	ScopeRead      = "read"
	ScopeReplicate = "replicate"
	ScopeAdmin     = "admin"
)

// ValidScope says whether s is one of the scopes.
func ValidScope(s string) bool { return s == ScopeRead || s == ScopeReplicate || s == ScopeAdmin }

// tenancyRe is a tenancy's name: what `server provision --tenancy` takes.
var tenancyRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidTenancy says whether name may name a tenancy.
func ValidTenancy(name string) bool { return tenancyRe.MatchString(name) }

// Bounds on a store file, checked before anything is allocated from it.
const (
	MaxFileSize = 4 << 20
	MaxTokens   = 10000
	maxLabel    = 200
	fileVersion = 1
)

// Entry is one token in the store. Hash is all the store knows of its
// secret.
type Entry struct {
	ID      string    `json:"id"`
	Tenancy string    `json:"tenancy"`
	Scope   string    `json:"scope"`
	Label   string    `json:"label,omitempty"` // the site it was made for, free text
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"` // zero: never
	Revoked time.Time `json:"revoked,omitzero"` // zero: not revoked
	Hash    string    `json:"hash"`
}

// State says what an entry is worth at now: "active", "expired" or "revoked".
func (e Entry) State(now time.Time) string {
	switch {
	case !e.Revoked.IsZero() && !now.Before(e.Revoked):
		return "revoked"
	case !e.Expires.IsZero() && !now.Before(e.Expires):
		return "expired"
	}
	return "active"
}

// File is a token store as it lies on disk (JSON, mode 0600).
type File struct {
	Version int     `json:"version"`
	Tokens  []Entry `json:"tokens"`
}

// Decode reads a store file, refusing anything but a well-formed one:
// unknown fields, a bad ID, tenancy, scope or hash, a duplicate ID.
func Decode(r io.Reader) (*File, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("tokens: read store: %w", err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("tokens: store is over %d bytes", MaxFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("tokens: decode store: %w", err)
	}
	if dec.More() {
		return nil, errors.New("tokens: decode store: data after the JSON object")
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return &f, nil
}

func (f *File) check() error {
	if f.Version != fileVersion {
		return fmt.Errorf("tokens: store version %d, want %d", f.Version, fileVersion)
	}
	if len(f.Tokens) > MaxTokens {
		return fmt.Errorf("tokens: store holds %d tokens, at most %d", len(f.Tokens), MaxTokens)
	}
	seen := make(map[string]bool, len(f.Tokens))
	for i, e := range f.Tokens {
		switch {
		case !ValidID(e.ID):
			return fmt.Errorf("tokens: store entry %d: bad id %q", i, e.ID)
		case seen[e.ID]:
			return fmt.Errorf("tokens: store entry %d: duplicate id %s", i, e.ID)
		case !ValidTenancy(e.Tenancy):
			return fmt.Errorf("tokens: store entry %s: bad tenancy %q", e.ID, e.Tenancy)
		case !ValidScope(e.Scope):
			return fmt.Errorf("tokens: store entry %s: bad scope %q", e.ID, e.Scope)
		case len(e.Label) > maxLabel:
			return fmt.Errorf("tokens: store entry %s: label over %d bytes", e.ID, maxLabel)
		case len(e.Hash) != 64 || !isLowerHex(e.Hash):
			return fmt.Errorf("tokens: store entry %s: bad hash", e.ID)
		}
		seen[e.ID] = true
	}
	return nil
}

// Load reads the store file at path, refusing one others may read.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("tokens: store %s: mode %v lets others read it; chmod 600 it", path, fi.Mode().Perm())
	}
	f, err := Decode(fh)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return f, nil
}

// Save writes f to path atomically (a temporary file, synced, renamed
// over), mode 0600, so a server rereading it sees the old or the new store,
// never half of one.
func (f *File) Save(path string) error {
	f.Version = fileVersion
	if err := f.check(); err != nil {
		return err
	}
	sort.SliceStable(f.Tokens, func(i, j int) bool {
		a, b := f.Tokens[i], f.Tokens[j]
		if a.Tenancy != b.Tenancy {
			return a.Tenancy < b.Tenancy
		}
		return a.Created.Before(b.Created)
	})
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tokens-*.tmp")
	if err != nil {
		return fmt.Errorf("tokens: save %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(append(b, '\n'))
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("tokens: save %s: %w", path, err)
	}
	return nil
}

// Add makes a new token for tenancy with scope, expiring after ttl (0:
// never), and returns its string form (shown once; the store keeps only
// the hash) and its entry.
func (f *File) Add(tenancy, scope, label string, now time.Time, ttl time.Duration) (string, Entry, error) {
	if !ValidTenancy(tenancy) {
		return "", Entry{}, fmt.Errorf("tokens: bad tenancy %q (lower-case letters, digits and -, up to 63)", tenancy)
	}
	if !ValidScope(scope) {
		return "", Entry{}, fmt.Errorf("tokens: bad scope %q (read, replicate or admin)", scope)
	}
	if ttl < 0 {
		return "", Entry{}, errors.New("tokens: a negative expiry")
	}
	tok, id, hash := New()
	e := Entry{ID: id, Tenancy: tenancy, Scope: scope, Label: label, Created: now.UTC().Truncate(time.Second), Hash: hash}
	if ttl > 0 {
		e.Expires = now.Add(ttl).UTC().Truncate(time.Second)
	}
	f.Tokens = append(f.Tokens, e)
	return tok, e, nil
}

// Find returns the index of the entry with id, or -1.
func (f *File) Find(id string) int {
	for i, e := range f.Tokens {
		if e.ID == id {
			return i
		}
	}
	return -1
}

// Refusal reasons a Check returns; the server logs them and tells the
// client none of them.
var (
	ErrUnknown  = errors.New("tokens: unknown token id")
	ErrMismatch = errors.New("tokens: wrong secret")
	ErrRevoked  = errors.New("tokens: token revoked")
	ErrExpired  = errors.New("tokens: token expired")
)

// Set is a store made ready for checking tokens.
type Set struct {
	byID map[string]Entry
}

// NewSet indexes f's entries by ID.
func NewSet(f *File) *Set {
	s := &Set{byID: make(map[string]Entry, len(f.Tokens))}
	for _, e := range f.Tokens {
		s.byID[e.ID] = e
	}
	return s
}

// dummy stands in for an unknown ID or a malformed token, so that every
// check hashes a secret and compares digests whether or not the ID is
// known: a miss takes the same path as a hit.
var dummy = Entry{ID: "0000000000000000", Hash: hashSecret("0000000000000000", "")}

// hashCompares counts the hash-and-compare steps Check has made; tests
// assert that each Check makes exactly one, whatever the token.
var hashCompares atomic.Int64

// CompareCount is how many hash-and-compare steps Checks have made in this
// process: a test's window on the "no early return on a miss" rule.
func CompareCount() int64 { return hashCompares.Load() }

// Check says which entry the token s is, or why it is refused
// (ErrMalformed, ErrUnknown, ErrMismatch, ErrRevoked, ErrExpired). It
// hashes and compares in constant time on every path, an unknown ID or a
// malformed token against a dummy entry, and decides only afterwards.
func (s *Set) Check(tok string, now time.Time) (Entry, error) {
	id, secret, perr := Parse(tok)
	e, known := s.byID[id]
	if perr != nil || !known {
		e = dummy
	}
	got := hashSecret(e.ID, secret)
	hashCompares.Add(1)
	match := subtle.ConstantTimeCompare(hexBytes(got), hexBytes(e.Hash)) == 1
	switch {
	case perr != nil:
		return Entry{}, perr
	case !known:
		return Entry{}, ErrUnknown
	case !match:
		return Entry{}, ErrMismatch
	case e.State(now) == "revoked":
		return Entry{}, ErrRevoked
	case e.State(now) == "expired":
		return Entry{}, ErrExpired
	}
	return e, nil
}

// hexBytes decodes a digest for comparison; a bad one (the store's check
// refuses those) compares unequal.
func hexBytes(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		return []byte{0}
	}
	return b
}
