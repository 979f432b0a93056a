package stackgen

import (
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode"
)

// Volume roles.
const (
	RoleBoot = "boot"
	RoleData = "data"
)

// Volume is one volume of a snapshot as the stack sees it.
type Volume struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"` // RoleBoot or RoleData
	Size     int64  `json:"size"`
	Manifest string `json:"manifest"` // hex digest of the volume manifest
}

// Snapshot is a snapshot of a VG with its volumes.
type Snapshot struct {
	ID      string    `json:"id"`
	Seq     uint64    `json:"seq"`
	Created time.Time `json:"created"`
	Volumes []Volume  `json:"volumes"`
}

// Delta names the delta file that moves a replica from BaseSnapshotID to
// TargetSnapshotID.
type Delta struct {
	File             string        `json:"file"`   // the .vmdelta file or split dir, as the user gave it
	Digest           string        `json:"digest"` // hex BLAKE3 of the delta (or of its index)
	Size             int64         `json:"size"`
	BaseSnapshotID   string        `json:"base_snapshot_id"`
	TargetSnapshotID string        `json:"target_snapshot_id"`
	Volumes          []DeltaVolume `json:"volumes"`
	// Files are the SHA-256 of every file of the delta as it was at generate
	// time, which a local stack compares at plan time (filesha256 is the
	// hash OpenTofu has built in). Empty: the stack does not check the delta.
	Files []DeltaFile `json:"files,omitempty"`
}

// DeltaFile is one file of a delta and its SHA-256.
type DeltaFile struct {
	Name   string `json:"name"` // inside a split delta directory; "" for a one-file delta
	SHA256 string `json:"sha256"`
}

// DeltaVolume is one volume the delta changes.
type DeltaVolume struct {
	VolumeID     string `json:"volume_id"`
	ChangedBytes int64  `json:"changed_bytes"`
	OldSize      int64  `json:"old_size"`
	NewSize      int64  `json:"new_size"`
	Added        bool   `json:"added"`
}

// Plan is everything a stack is generated from. Base and Delta are nil for
// the first stack of a replica and both set for a delta stack.
type Plan struct {
	VGID     string    `json:"vg_id"`
	VGName   string    `json:"vg_name"`
	Snapshot Snapshot  `json:"snapshot"`
	Base     *Snapshot `json:"base,omitempty"`
	Delta    *Delta    `json:"delta,omitempty"`
	Ref      string    `json:"ref,omitempty"` // what the user typed, e.g. "web@1"
}

// ErrInvalidPlan is wrapped by every validation error.
var ErrInvalidPlan = errors.New("stackgen: invalid plan")

// FieldError says which field of a plan was refused and why.
type FieldError struct {
	Field  string // e.g. "snapshot.volumes[1].name"
	Value  string
	Reason string
}

func (e *FieldError) Error() string {
	// %q keeps quotes, newlines and ${ visible in the message.
	return fmt.Sprintf("stackgen: plan field %s = %q: %s", e.Field, e.Value, e.Reason)
}

func (e *FieldError) Unwrap() error { return ErrInvalidPlan }

var (
	vgIDRe   = regexp.MustCompile(`^vg-[0-9a-f]{16}$`)
	volIDRe  = regexp.MustCompile(`^vol-[0-9a-f]{16}$`)
	snapIDRe = regexp.MustCompile(`^snap-[0-9a-f]{16}$`)
	nameRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	digestRe = regexp.MustCompile(`^[0-9a-f]{64}$`)
	refRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,200}$`)
	// partNameRe is a file of a split delta: no separator, no "..".
	partNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$`)
)

// Size bounds of an OCI block volume, in GB.
const (
	ociMinVolumeGB = 50
	ociMaxVolumeGB = 32768
)

func check(re *regexp.Regexp, field, value, what string) error {
	if re.MatchString(value) {
		return nil
	}
	return &FieldError{Field: field, Value: value, Reason: "must be " + what}
}

const (
	vgIDWhat   = "a VG ID (vg- and 16 lower-case hex digits)"
	volIDWhat  = "a volume ID (vol- and 16 lower-case hex digits)"
	snapIDWhat = "a snapshot ID (snap- and 16 lower-case hex digits)"
	nameWhat   = "a name of 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
	digestWhat = "a digest of 64 lower-case hex digits"
)

// Validate refuses a plan with any ID, name, digest or path that HCL, a
// shell or a file system could misread, and a delta that does not fit its
// snapshots. The error is a *FieldError naming the field.
func Validate(p Plan) error {
	if err := check(vgIDRe, "vg_id", p.VGID, vgIDWhat); err != nil {
		return err
	}
	if err := check(nameRe, "vg_name", p.VGName, nameWhat); err != nil {
		return err
	}
	if p.Ref != "" {
		if err := check(refRe, "ref", p.Ref, "a snapshot reference such as web@1"); err != nil {
			return err
		}
	}
	if err := validateSnapshot("snapshot", p.Snapshot); err != nil {
		return err
	}
	if (p.Base == nil) != (p.Delta == nil) {
		return &FieldError{Field: "delta", Reason: "a delta stack needs both base and delta; a first stack neither"}
	}
	if p.Base == nil {
		return nil
	}
	if err := validateSnapshot("base", *p.Base); err != nil {
		return err
	}
	if p.Base.Seq >= p.Snapshot.Seq {
		return &FieldError{Field: "base.seq", Value: fmt.Sprint(p.Base.Seq),
			Reason: fmt.Sprintf("must be before the target snapshot seq %d", p.Snapshot.Seq)}
	}
	return validateDelta(p)
}

func validateSnapshot(field string, s Snapshot) error {
	if err := check(snapIDRe, field+".id", s.ID, snapIDWhat); err != nil {
		return err
	}
	if len(s.Volumes) == 0 {
		return &FieldError{Field: field + ".volumes", Reason: "must list at least one volume"}
	}
	seen := map[string]bool{}
	boots := 0
	for i, v := range s.Volumes {
		f := fmt.Sprintf("%s.volumes[%d]", field, i)
		if err := check(volIDRe, f+".id", v.ID, volIDWhat); err != nil {
			return err
		}
		if seen[v.ID] {
			return &FieldError{Field: f + ".id", Value: v.ID, Reason: "appears twice"}
		}
		seen[v.ID] = true
		if err := check(nameRe, f+".name", v.Name, nameWhat); err != nil {
			return err
		}
		switch v.Role {
		case RoleBoot:
			boots++
		case RoleData:
		default:
			return &FieldError{Field: f + ".role", Value: v.Role, Reason: `must be "boot" or "data"`}
		}
		if v.Size <= 0 {
			return &FieldError{Field: f + ".size", Value: fmt.Sprint(v.Size), Reason: "must be positive"}
		}
		if err := check(digestRe, f+".manifest", v.Manifest, digestWhat); err != nil {
			return err
		}
	}
	if boots > 1 {
		return &FieldError{Field: field + ".volumes", Reason: "must hold at most one boot volume"}
	}
	return nil
}

func validateDelta(p Plan) error {
	d := p.Delta
	if err := validatePath("delta.file", d.File); err != nil {
		return err
	}
	if err := check(digestRe, "delta.digest", d.Digest, digestWhat); err != nil {
		return err
	}
	if d.BaseSnapshotID != p.Base.ID {
		return &FieldError{Field: "delta.base_snapshot_id", Value: d.BaseSnapshotID,
			Reason: fmt.Sprintf("must be the base snapshot %s", p.Base.ID)}
	}
	if d.TargetSnapshotID != p.Snapshot.ID {
		return &FieldError{Field: "delta.target_snapshot_id", Value: d.TargetSnapshotID,
			Reason: fmt.Sprintf("must be the target snapshot %s", p.Snapshot.ID)}
	}
	for i, f := range d.Files {
		fld := fmt.Sprintf("delta.files[%d]", i)
		if f.Name != "" && !partNameRe.MatchString(f.Name) {
			return &FieldError{Field: fld + ".name", Value: f.Name, Reason: "must be a file name inside the delta directory"}
		}
		if err := check(digestRe, fld+".sha256", f.SHA256, digestWhat); err != nil {
			return err
		}
	}
	inTarget := volumeIndex(p.Snapshot.Volumes)
	inBase := volumeIndex(p.Base.Volumes)
	seen := map[string]bool{}
	for i, dv := range d.Volumes {
		f := fmt.Sprintf("delta.volumes[%d]", i)
		if err := check(volIDRe, f+".volume_id", dv.VolumeID, volIDWhat); err != nil {
			return err
		}
		if seen[dv.VolumeID] {
			return &FieldError{Field: f + ".volume_id", Value: dv.VolumeID, Reason: "appears twice"}
		}
		seen[dv.VolumeID] = true
		if _, ok := inTarget[dv.VolumeID]; !ok {
			return &FieldError{Field: f + ".volume_id", Value: dv.VolumeID, Reason: "is not a volume of the target snapshot"}
		}
		if _, ok := inBase[dv.VolumeID]; ok == dv.Added {
			return &FieldError{Field: f + ".added", Value: fmt.Sprint(dv.Added),
				Reason: "must be true exactly when the volume is missing from the base snapshot"}
		}
	}
	return nil
}

// validatePath refuses empty paths and control characters; quotes, spaces
// and ${ are fine because hclwrite escapes them and the stack never passes
// the path through a shell.
func validatePath(field, path string) error {
	if path == "" {
		return &FieldError{Field: field, Reason: "must not be empty"}
	}
	for _, r := range path {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return &FieldError{Field: field, Value: path, Reason: "must not hold control characters or invalid UTF-8"}
		}
	}
	return nil
}

func volumeIndex(vs []Volume) map[string]int {
	m := make(map[string]int, len(vs))
	for i, v := range vs {
		m[v.ID] = i
	}
	return m
}
