package volume

import (
	"fmt"
	"strconv"
	"strings"
)

// Ref names a snapshot the way users write it: "web@3", "web@latest", or
// "web" (the latest). VG is a name or an identifier.
type Ref struct {
	VG     string
	Seq    uint64 // 0 when Latest
	Latest bool
}

// ParseRef parses a snapshot reference.
func ParseRef(s string) (Ref, error) {
	vg, at, hasAt := strings.Cut(s, "@")
	if !nameRE.MatchString(vg) {
		return Ref{}, fmt.Errorf("invalid snapshot reference %q: %q is not a volume group name or id", s, vg)
	}
	if !hasAt || at == "latest" {
		return Ref{VG: vg, Latest: true}, nil
	}
	// Only plain decimal: no sign, no leading zeros, so each snapshot has
	// exactly one spelling.
	seq, err := strconv.ParseUint(at, 10, 64)
	if err != nil || seq == 0 || at[0] == '0' || at[0] == '+' {
		return Ref{}, fmt.Errorf("invalid snapshot reference %q: want VG@N with N a sequence number from 1, or VG@latest", s)
	}
	return Ref{VG: vg, Seq: seq}, nil
}

// String formats the reference so that ParseRef reads it back.
func (r Ref) String() string {
	if r.Latest {
		return r.VG + "@latest"
	}
	return r.VG + "@" + strconv.FormatUint(r.Seq, 10)
}
