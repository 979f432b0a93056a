package volume

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Role says what a volume is to its VM.
type Role string

const (
	RoleBoot Role = "boot"
	RoleData Role = "data"
)

// Volume is one disk of a VM.
type Volume struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Role   Role   `json:"role"`
	Size   int64  `json:"size"`
	Source string `json:"source,omitempty"` // path the volume is read from
	Format string `json:"format,omitempty"` // source format (raw, qcow2, ...)
	// QMP is the QMP socket of the QEMU process that serves Source, an NBD
	// URI, when vmrep may keep dirty bitmaps there.
	QMP string `json:"qmp,omitempty"`
}

// VG is a volume group: the volumes of one VM.
type VG struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Volumes []Volume  `json:"volumes"`
	// NextSeq is the sequence number the next snapshot gets. It only grows,
	// so a number is never handed out twice, even after a delete.
	NextSeq uint64 `json:"next_seq"`
	// Hooks run around each capture; nil in records made before hooks.
	Hooks *Hooks `json:"hooks,omitempty"`
	// LVMSnapshot, when set, makes each capture read a temporary LVM
	// snapshot of every volume instead of the live logical volume.
	LVMSnapshot *LVMSnapshot `json:"lvm_snapshot,omitempty"`
	// Origin, on a replication server, is the source that created the VG
	// by replication (the ID it presents); empty for a VG created here
	// and in records older than the rule. Once set it never changes.
	Origin string `json:"origin,omitempty"`
}

const (
	vgPrefix       = "vg-"
	volumePrefix   = "vol-"
	snapshotPrefix = "snap-"
	idHexDigits    = 16
)

// NewVGID returns a fresh random volume group identifier.
func NewVGID() string { return newID(vgPrefix) }

// NewVolumeID returns a fresh random volume identifier.
func NewVolumeID() string { return newID(volumePrefix) }

// NewSnapshotID returns a fresh random snapshot identifier.
func NewSnapshotID() string { return newID(snapshotPrefix) }

func newID(prefix string) string {
	var b [idHexDigits / 2]byte
	// crypto/rand.Read never fails on supported platforms (it panics
	// instead), so there is no error to pass on.
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// isID reports whether s is prefix followed by 16 lowercase hex digits.
func isID(prefix, s string) bool {
	if len(s) != len(prefix)+idHexDigits || s[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func checkID(what, prefix, s string) error {
	if !isID(prefix, s) {
		return fmt.Errorf("invalid %s id %q: want %q followed by %d lowercase hex digits", what, s, prefix, idHexDigits)
	}
	return nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidateName checks a VG or volume name; kind names what it is in the
// error ("volume group", "volume"). Names become file names and Terraform
// identifiers, hence the narrow alphabet. A name that looks like an
// identifier is refused so that "name or id" lookups are never ambiguous.
func ValidateName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid %s name %q: want 1 to 64 of A-Z a-z 0-9 . _ - starting with a letter or digit", kind, name)
	}
	if isID(vgPrefix, name) || isID(volumePrefix, name) || isID(snapshotPrefix, name) {
		return fmt.Errorf("invalid %s name %q: looks like an identifier", kind, name)
	}
	return nil
}

// ValidateNewName is ValidateName for a name being given now (a VG or
// volume being created): it also refuses "..", which would make
// "VG@A..VG@B" ranges ambiguous. Records written before the rule keep
// their names (ValidateName still reads them).
func ValidateNewName(kind, name string) error {
	if err := ValidateName(kind, name); err != nil {
		return err
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("invalid %s name %q: \"..\" is not allowed in names (it separates the two ends of a range)", kind, name)
	}
	return nil
}

// Validate checks the VG as a record: identifiers, names, exactly one boot
// volume, unique volume names and identifiers, sizes.
func (vg *VG) Validate() error {
	if err := checkID("volume group", vgPrefix, vg.ID); err != nil {
		return err
	}
	if err := ValidateName("volume group", vg.Name); err != nil {
		return err
	}
	if len(vg.Volumes) == 0 {
		return fmt.Errorf("volume group %q: no volumes (want exactly one boot volume)", vg.Name)
	}
	names := make(map[string]bool, len(vg.Volumes))
	ids := make(map[string]bool, len(vg.Volumes))
	boots := 0
	for _, v := range vg.Volumes {
		if err := ValidateName("volume", v.Name); err != nil {
			return fmt.Errorf("volume group %q: %w", vg.Name, err)
		}
		if err := checkID("volume", volumePrefix, v.ID); err != nil {
			return fmt.Errorf("volume group %q volume %q: %w", vg.Name, v.Name, err)
		}
		if names[v.Name] {
			return fmt.Errorf("volume group %q: two volumes named %q", vg.Name, v.Name)
		}
		if ids[v.ID] {
			return fmt.Errorf("volume group %q: two volumes with id %s", vg.Name, v.ID)
		}
		names[v.Name], ids[v.ID] = true, true
		switch v.Role {
		case RoleBoot:
			boots++
		case RoleData:
		default:
			return fmt.Errorf("volume group %q volume %q: invalid role %q (want %q or %q)", vg.Name, v.Name, v.Role, RoleBoot, RoleData)
		}
		if v.Size < 0 {
			return fmt.Errorf("volume group %q volume %q: negative size %d", vg.Name, v.Name, v.Size)
		}
	}
	if boots != 1 {
		return fmt.Errorf("volume group %q: %d boot volumes, want exactly one", vg.Name, boots)
	}
	if err := vg.Hooks.Validate(); err != nil {
		return fmt.Errorf("volume group %q: %w", vg.Name, err)
	}
	if err := vg.LVMSnapshot.Validate(); err != nil {
		return fmt.Errorf("volume group %q: %w", vg.Name, err)
	}
	return nil
}

// Boot returns the boot volume; the zero Volume if the VG has none (which
// Validate refuses).
func (vg *VG) Boot() Volume {
	for _, v := range vg.Volumes {
		if v.Role == RoleBoot {
			return v
		}
	}
	return Volume{}
}

// Volume finds a volume by name or identifier.
func (vg *VG) Volume(nameOrID string) (Volume, bool) {
	for _, v := range vg.Volumes {
		if v.Name == nameOrID || v.ID == nameOrID {
			return v, true
		}
	}
	return Volume{}, false
}
