package delta

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vmrep/vmrep/engine/blob"
)

// ResumeToken names where an interrupted delta stream stopped: the volume
// group, the two snapshots, how many bytes the receiver holds and the
// BLAKE3 of those bytes. It grants nothing: the daemon that serves the
// resumed export checks the caller's rights to both snapshots as for any
// export, builds the delta again, and sends the rest only when its first
// Offset bytes hash to Prefix. So it needs no MAC (doc/design.md,
// "Streaming deltas").
type ResumeToken struct {
	VGID   string
	Base   string
	Target string
	Offset int64
	Prefix blob.ID
}

const (
	tokenMagic   = "vmrs"
	tokenVersion = 1
	maxTokenID   = 128
	// ResumeMagic starts a resumed stream, before the token that says where
	// it resumes; a fresh stream starts with the delta's own magic.
	ResumeMagic = "VMDR"
	maxTokenLen = 1024
)

// ErrBadToken is wrapped by every error about a malformed resume token.
var ErrBadToken = errors.New("malformed resume token")

// String encodes t for a command line: base64url of a magic, a version,
// the three IDs, the offset and the prefix hash.
func (t ResumeToken) String() string {
	b := []byte(tokenMagic)
	b = append(b, tokenVersion)
	for _, s := range []string{t.VGID, t.Base, t.Target} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(t.Offset))
	b = append(b, t.Prefix[:]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseResumeToken decodes a token String made, checking every length
// and character before it is used.
func ParseResumeToken(s string) (ResumeToken, error) {
	var t ResumeToken
	bad := func(f string, args ...any) (ResumeToken, error) {
		return ResumeToken{}, fmt.Errorf("%w: %s", ErrBadToken, fmt.Sprintf(f, args...))
	}
	if len(s) > maxTokenLen {
		return bad("%d characters is too long", len(s))
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return bad("not base64url")
	}
	if len(b) < len(tokenMagic)+1 || string(b[:4]) != tokenMagic {
		return bad("bad magic")
	}
	if b[4] != tokenVersion {
		return bad("unknown version %d", b[4])
	}
	r := bytes.NewReader(b[5:])
	var ids [3]string
	for i := range ids {
		n, err := binary.ReadUvarint(r)
		if err != nil || n == 0 || n > maxTokenID || n > uint64(r.Len()) {
			return bad("bad id length")
		}
		id := make([]byte, n)
		io.ReadFull(r, id)
		if !validTokenID(id) {
			return bad("bad character in an id")
		}
		ids[i] = string(id)
	}
	off, err := binary.ReadUvarint(r)
	if err != nil || off > 1<<62 {
		return bad("bad offset")
	}
	if r.Len() != len(t.Prefix) {
		return bad("bad prefix hash length")
	}
	io.ReadFull(r, t.Prefix[:])
	t.VGID, t.Base, t.Target, t.Offset = ids[0], ids[1], ids[2], int64(off)
	return t, nil
}

func validTokenID(b []byte) bool {
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// AppendResumePreamble is what a resumed stream sends before the delta's
// bytes from t.Offset on: ResumeMagic, the token's length and the token.
func AppendResumePreamble(dst []byte, t ResumeToken) []byte {
	s := t.String()
	dst = append(dst, ResumeMagic...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// ReadResumePreamble reads the token of a resumed stream whose ResumeMagic
// the caller has already read.
func ReadResumePreamble(r io.Reader) (ResumeToken, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return ResumeToken{}, fmt.Errorf("%w: resumed stream: %v", ErrTruncated, err)
	}
	n := binary.LittleEndian.Uint16(l[:])
	if n > maxTokenLen {
		return ResumeToken{}, fmt.Errorf("%w: resumed stream: token of %d bytes", ErrBadToken, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return ResumeToken{}, fmt.Errorf("%w: resumed stream: %v", ErrTruncated, err)
	}
	return ParseResumeToken(string(b))
}
