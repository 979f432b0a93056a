package provision

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vmrep/vmrep/internal/tokens"
)

// TokenInfo is a token as `vmrep server tokens list` shows it: never its
// secret, nor its hash.
type TokenInfo struct {
	ID      string     `json:"id"`
	Tenancy string     `json:"tenancy"`
	Scope   string     `json:"scope"`
	Label   string     `json:"label,omitempty"`
	Created time.Time  `json:"created"`
	Expires *time.Time `json:"expires,omitempty"`
	Revoked *time.Time `json:"revoked,omitempty"`
	State   string     `json:"state"` // active, expired, revoked
}

func info(e tokens.Entry, now time.Time) TokenInfo {
	ti := TokenInfo{ID: e.ID, Tenancy: e.Tenancy, Scope: e.Scope, Label: e.Label, Created: e.Created, State: e.State(now)}
	if !e.Expires.IsZero() {
		ti.Expires = &e.Expires
	}
	if !e.Revoked.IsZero() {
		ti.Revoked = &e.Revoked
	}
	return ti
}

// NewToken is a token just made: its string form is shown once.
type NewToken struct {
	TokenInfo
	Token     string `json:"token"`
	TokenFile string `json:"token_file,omitempty"` // where it was written, when it was
	// NewTenancy says no other token of the store names the tenancy: a
	// running vmrepd hosts a tenancy from its start, so it must be
	// restarted to serve this one.
	NewTenancy bool `json:"new_tenancy,omitempty"`
}

// storePath is the token store of a server directory (server/ of a
// provisioned directory, or any directory holding tokens.json).
func storePath(serverDir string) string { return filepath.Join(serverDir, FileTokens) }

// ListTokens lists the store's tokens, of tenancy only when it is set.
func ListTokens(serverDir, tenancy string, now time.Time) ([]TokenInfo, error) {
	f, err := tokens.Load(storePath(serverDir))
	if err != nil {
		return nil, err
	}
	out := []TokenInfo{}
	for _, e := range f.Tokens {
		if tenancy == "" || e.Tenancy == tenancy {
			out = append(out, info(e, now))
		}
	}
	return out, nil
}

// CreateToken adds a token for tenancy to the store. With tokenFile set it
// writes the token there (0600, refusing an existing file) before the store
// is saved.
func CreateToken(serverDir, tenancy, scope, label string, ttl time.Duration, tokenFile string, now time.Time) (*NewToken, error) {
	if !tokens.ValidTenancy(tenancy) {
		return nil, usagef("tenancy %q: lower-case letters, digits and -, up to 63", tenancy)
	}
	if !tokens.ValidScope(scope) {
		return nil, usagef("scope %q: read, replicate or admin", scope)
	}
	if ttl < 0 {
		return nil, usagef("a negative expiry")
	}
	f, err := tokens.Load(storePath(serverDir))
	if err != nil {
		return nil, err
	}
	fresh := true
	for _, e := range f.Tokens {
		fresh = fresh && e.Tenancy != tenancy
	}
	tok, e, err := f.Add(tenancy, scope, label, now, ttl)
	if err != nil {
		return nil, err
	}
	nt, err := saveNew(serverDir, f, tok, e, tokenFile, now)
	if nt != nil {
		nt.NewTenancy = fresh
	}
	return nt, err
}

func saveNew(serverDir string, f *tokens.File, tok string, e tokens.Entry, tokenFile string, now time.Time) (*NewToken, error) {
	nt := &NewToken{TokenInfo: info(e, now), Token: tok}
	if tokenFile != "" {
		fh, err := os.OpenFile(tokenFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("provision: token file: %w", err)
		}
		_, err = fh.WriteString(tok + "\n")
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(tokenFile)
			return nil, fmt.Errorf("provision: token file: %w", err)
		}
		nt.TokenFile = tokenFile
	}
	if err := f.Save(storePath(serverDir)); err != nil {
		if tokenFile != "" {
			os.Remove(tokenFile)
		}
		return nil, err
	}
	return nt, nil
}

// find returns the index of token id in f, refusing one of another
// tenancy than tenancy (when set) with the same words as an unknown one.
func find(f *tokens.File, id, tenancy string) (int, error) {
	i := f.Find(id)
	if i < 0 || (tenancy != "" && f.Tokens[i].Tenancy != tenancy) {
		if tenancy != "" {
			return -1, usagef("no token %s in tenancy %s", id, tenancy)
		}
		return -1, usagef("no token %s", id)
	}
	return i, nil
}

// RevokeToken revokes token id now; a running server refuses it from its
// next request on.
func RevokeToken(serverDir, id, tenancy string, now time.Time) (*TokenInfo, error) {
	f, err := tokens.Load(storePath(serverDir))
	if err != nil {
		return nil, err
	}
	i, err := find(f, id, tenancy)
	if err != nil {
		return nil, err
	}
	e := &f.Tokens[i]
	if e.State(now) == "revoked" {
		ti := info(*e, now)
		return &ti, nil
	}
	e.Revoked = now.UTC().Truncate(time.Second)
	ti := info(*e, now)
	if err := f.Save(storePath(serverDir)); err != nil {
		return nil, err
	}
	return &ti, nil
}

// RotateToken issues a new token with the tenancy, scope, label and
// lifetime of token id, and revokes id after overlap (0: at once), so the
// site can switch to the new token before the old stops working.
func RotateToken(serverDir, id, tenancy string, overlap time.Duration, tokenFile string, now time.Time) (*NewToken, error) {
	if overlap < 0 {
		return nil, usagef("a negative overlap")
	}
	f, err := tokens.Load(storePath(serverDir))
	if err != nil {
		return nil, err
	}
	i, err := find(f, id, tenancy)
	if err != nil {
		return nil, err
	}
	old := f.Tokens[i]
	if old.State(now) != "active" {
		return nil, usagef("token %s is %s; create a new one instead", id, old.State(now))
	}
	var ttl time.Duration
	if !old.Expires.IsZero() {
		ttl = old.Expires.Sub(old.Created)
	}
	until := now.Add(overlap).UTC().Truncate(time.Second)
	if !old.Expires.IsZero() && old.Expires.Before(until) {
		until = old.Expires
	}
	f.Tokens[i].Revoked = until
	tok, e, err := f.Add(old.Tenancy, old.Scope, old.Label, now, ttl)
	if err != nil {
		return nil, err
	}
	return saveNew(serverDir, f, tok, e, tokenFile, now)
}
