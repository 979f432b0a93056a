package volume

import (
	"fmt"
	"strconv"
	"strings"
)

// Ref names a snapshot the way users write it: "web@3" or "web@latest".
// VG is a name or an identifier. A bare "web" is refused: whatever takes a
// reference (a delete above all) names exactly one snapshot, and "latest"
// only when it is spelt out.
type Ref struct {
	VG     string
	Seq    uint64 // 0 when Latest
	Latest bool
}

// ParseRef parses a snapshot reference. The CLI applies the same grammar
// and the same message before it sends a reference.
func ParseRef(s string) (Ref, error) {
	vg, at, hasAt := strings.Cut(s, "@")
	if !nameRE.MatchString(vg) || !hasAt {
		return Ref{}, refError(s)
	}
	if at == "latest" {
		return Ref{VG: vg, Latest: true}, nil
	}
	// Only plain decimal: no sign, no leading zeros, so each snapshot has
	// exactly one spelling.
	seq, err := strconv.ParseUint(at, 10, 64)
	if err != nil || seq == 0 || at[0] == '0' || at[0] == '+' {
		return Ref{}, refError(s)
	}
	return Ref{VG: vg, Seq: seq}, nil
}

func refError(s string) error {
	return fmt.Errorf("invalid snapshot reference %q: want VG@N (N = 1, 2, ...) or VG@latest", s)
}

// String formats the reference so that ParseRef reads it back.
func (r Ref) String() string {
	if r.Latest {
		return r.VG + "@latest"
	}
	return r.VG + "@" + strconv.FormatUint(r.Seq, 10)
}
