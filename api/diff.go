package api

// Volume changes a diff reports.
const (
	ChangeUnchanged = "unchanged"
	ChangeModified  = "modified"
	ChangeAdded     = "added"
	ChangeRemoved   = "removed"
)

// DiffRequest is the body of POST /v1/diff.
type DiffRequest struct {
	Base   string `json:"base"`   // "vg@seq"
	Target string `json:"target"` // "vg@seq", same VG
}

// VolumeDiff is one volume's part of a diff.
type VolumeDiff struct {
	VolumeID      string `json:"volume_id"`
	Name          string `json:"name"`
	Change        string `json:"change"`
	BaseSize      int64  `json:"base_size"`
	TargetSize    int64  `json:"target_size"`
	ChangedBytes  int64  `json:"changed_bytes"`
	Extents       int64  `json:"extents"`
	ChangedChunks int64  `json:"changed_chunks"`
	PagesRead     int64  `json:"pages_read"`
	PagesSkipped  int64  `json:"pages_skipped"`
}

// DiffResult is the answer to POST /v1/diff.
type DiffResult struct {
	Base    string       `json:"base"`
	Target  string       `json:"target"`
	Volumes []VolumeDiff `json:"volumes"`
}
