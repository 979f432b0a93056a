package s3backend

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vmrep/vmrep/engine/cas"
)

// lockFileVersion is the version of the lock object's JSON.
const lockFileVersion = 1

// maxLockFile bounds a lock object read from the bucket.
const maxLockFile = 4 << 10

// lockFile is a lock object as stored under locks/.
type lockFile struct {
	Version int       `json:"version"`
	Mode    string    `json:"mode"` // "shared" or "exclusive"
	ID      string    `json:"id"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Store   string    `json:"store"`
	Why     string    `json:"why"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

func encodeLock(li cas.LockInfo) []byte {
	b, err := json.Marshal(lockFile{Version: lockFileVersion, Mode: li.Mode.String(), ID: li.ID, Host: li.Host,
		PID: li.PID, Store: li.Store, Why: li.Why, Created: li.Created.UTC(), Expires: li.Expires.UTC()})
	if err != nil {
		panic(err) // plain fields always encode
	}
	return b
}

// decodeLock reads a lock object; anything not written by encodeLock is an
// error.
func decodeLock(b []byte) (cas.LockInfo, error) {
	var li cas.LockInfo
	if len(b) > maxLockFile {
		return li, fmt.Errorf("lock object: %d bytes, at most %d", len(b), maxLockFile)
	}
	var f lockFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return li, fmt.Errorf("lock object: %w", err)
	}
	if dec.More() {
		return li, errors.New("lock object: data after the JSON object")
	}
	if f.Version != lockFileVersion {
		return li, fmt.Errorf("lock object: version %d, want %d", f.Version, lockFileVersion)
	}
	switch f.Mode {
	case "shared":
		li.Mode = cas.LockShared
	case "exclusive":
		li.Mode = cas.LockExclusive
	default:
		return li, fmt.Errorf("lock object: mode %q", f.Mode)
	}
	if !isLockID(f.ID) {
		return li, fmt.Errorf("lock object: bad id %q", f.ID)
	}
	if f.Created.IsZero() || f.Expires.IsZero() || f.Expires.Before(f.Created) {
		return li, errors.New("lock object: bad created or expiry time")
	}
	if f.PID < 0 {
		return li, fmt.Errorf("lock object: pid %d", f.PID)
	}
	li.ID, li.Host, li.PID, li.Store, li.Why = f.ID, f.Host, f.PID, f.Store, f.Why
	li.Created, li.Expires = f.Created, f.Expires
	return li, nil
}

// isLockID accepts the 16 lowercase hex digits newLockID makes.
func isLockID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
