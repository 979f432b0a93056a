package delta

import (
	"encoding/json"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// SnapRef names a snapshot in a delta header.
type SnapRef struct {
	ID  string `json:"id"`
	Seq uint64 `json:"seq"`
}

// VolumeHeader is one volume the delta changes. An added volume has no base
// manifest and a base size of 0.
type VolumeHeader struct {
	ID             string      `json:"id"`
	Name           string      `json:"name"`
	Role           volume.Role `json:"role"`
	Added          bool        `json:"added,omitempty"`
	BaseManifest   blob.ID     `json:"base_manifest"`
	BaseSize       int64       `json:"base_size"`
	TargetManifest blob.ID     `json:"target_manifest"`
	TargetSize     int64       `json:"target_size"`
}

// PartRef is one part file of a split delta, as its index lists it.
type PartRef struct {
	File    string  `json:"file"`
	Volume  int     `json:"volume"`
	Size    int64   `json:"size"`
	BLAKE3  blob.ID `json:"blake3"` // of the whole part file
	Records int64   `json:"records"`
}

// Header is what a delta says about itself. Parts is set in a split
// delta's index only.
type Header struct {
	VGID    string         `json:"vg_id"`
	VGName  string         `json:"vg_name"`
	Base    SnapRef        `json:"base"`
	Target  SnapRef        `json:"target"`
	Volumes []VolumeHeader `json:"volumes"`
	Parts   []PartRef      `json:"parts,omitempty"`
}

func (h *Header) validate() error {
	if len(h.Volumes) > maxVolumes || len(h.Parts) > maxParts {
		return formatErr("header", "%d volumes, %d parts: too many", len(h.Volumes), len(h.Parts))
	}
	if h.Base.ID == "" || h.Target.ID == "" {
		return formatErr("header", "no base or target snapshot")
	}
	for i, v := range h.Volumes {
		if v.ID == "" || v.TargetSize < 0 || v.BaseSize < 0 || v.Added && v.BaseSize != 0 {
			return formatErr("header", "volume %d: bad id or sizes", i)
		}
	}
	for i, p := range h.Parts {
		if p.Volume < 0 || p.Volume >= len(h.Volumes) || p.Size < prefixLen+trailerLen || !validPartName(p.File) {
			return formatErr("header", "part %d: bad volume, size or name", i)
		}
	}
	return nil
}

// validPartName keeps part names inside the delta's directory.
func validPartName(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func decodeHeader(b []byte) (*Header, error) {
	h := new(Header)
	if err := json.Unmarshal(b, h); err != nil {
		return nil, formatErr("header", "%v", err)
	}
	if err := h.validate(); err != nil {
		return nil, err
	}
	return h, nil
}
