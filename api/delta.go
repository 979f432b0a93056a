package api

// Job kinds of delta work.
const (
	JobDeltaExport = "delta-export"
	JobDeltaApply  = "delta-apply"
)

// DeltaExportRequest is the body of POST /v1/deltas/export.
type DeltaExportRequest struct {
	Base     string `json:"base"`
	Target   string `json:"target"`
	Output   string `json:"output"` // absolute: a file, or a directory with Split
	Split    bool   `json:"split,omitempty"`
	PartSize int64  `json:"part_size,omitempty"`
	// Force replaces an existing file, or writes into an existing
	// directory that is not empty.
	Force bool `json:"force,omitempty"`
}

// DeltaSummary counts what a delta holds or what applying it did.
type DeltaSummary struct {
	Volumes   int   `json:"volumes"`
	Records   int64 `json:"records"`
	DataBytes int64 `json:"data_bytes"`
	ZeroBytes int64 `json:"zero_bytes"`
	// CopyBytes and TargetCopyBytes are the volume bytes of copy records:
	// taken from the base (the replica's own files), and from bytes the
	// target holds earlier (delta format 4 on).
	CopyBytes       int64 `json:"copy_bytes"`
	TargetCopyBytes int64 `json:"target_copy_bytes"`
	StoredBytes     int64 `json:"stored_bytes"`
	FileBytes       int64 `json:"file_bytes"`
	Written         int64 `json:"written,omitempty"`
	Skipped         int64 `json:"skipped,omitempty"`
	ChangedBytes    int64 `json:"changed_bytes,omitempty"`
	// Verified counts the volumes an apply checked as --verify asked,
	// those already at the target included.
	Verified int `json:"verified,omitempty"`
}

// DeltaExportResult is the result of a delta export job.
type DeltaExportResult struct {
	Base    string       `json:"base"`
	Target  string       `json:"target"`
	Output  string       `json:"output"`
	Split   bool         `json:"split"`
	Digest  string       `json:"digest"` // BLAKE3 of the file, or of the index of a split delta
	Summary DeltaSummary `json:"summary"`
}

// DeltaApplyRequest is the body of POST /v1/deltas/apply.
type DeltaApplyRequest struct {
	Delta   string `json:"delta"`   // absolute path of a .vmdelta file or split directory
	Replica string `json:"replica"` // absolute replica directory
	Volume  string `json:"volume,omitempty"`
	Verify  string `json:"verify,omitempty"` // none (default), extents, full
}

// Verify levels of a delta apply.
const (
	VerifyNone    = "none"
	VerifyExtents = "extents"
	VerifyFull    = "full"
)

// DeltaApplyResult is the result of a delta apply job.
type DeltaApplyResult struct {
	Delta   string        `json:"delta"`
	Summary DeltaSummary  `json:"summary"`
	Replica ReplicaResult `json:"replica"`
}

// DeltaShowRequest is the body of POST /v1/deltas/show.
type DeltaShowRequest struct {
	Delta string `json:"delta"`
}

// DeltaVolume is one volume a delta carries, with its records summed up.
type DeltaVolume struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Role           string `json:"role"`
	Added          bool   `json:"added"`
	BaseManifest   string `json:"base_manifest,omitempty"`
	BaseSize       int64  `json:"base_size"`
	TargetManifest string `json:"target_manifest"`
	TargetSize     int64  `json:"target_size"`
	Records        int64  `json:"records"`
	DataBytes      int64  `json:"data_bytes"`
	ZeroBytes      int64  `json:"zero_bytes"`
	// CopyBytes: volume bytes copied from the base; TargetCopyBytes: volume
	// bytes copied from earlier in the target (delta format 4 on).
	CopyBytes       int64 `json:"copy_bytes"`
	TargetCopyBytes int64 `json:"target_copy_bytes"`
	StoredBytes     int64 `json:"stored_bytes"`
}

// DeltaPart is one part file of a split delta.
type DeltaPart struct {
	File    string `json:"file"`
	Volume  int    `json:"volume"`
	Size    int64  `json:"size"`
	Records int64  `json:"records"`
	BLAKE3  string `json:"blake3"`
}

// DeltaInfo is the answer to POST /v1/deltas/show.
type DeltaInfo struct {
	Path      string        `json:"path"`
	Split     bool          `json:"split"`
	Digest    string        `json:"digest"`
	FileBytes int64         `json:"file_bytes"`
	VGID      string        `json:"vg_id"`
	VGName    string        `json:"vg_name"`
	BaseID    string        `json:"base_id"`
	BaseSeq   uint64        `json:"base_seq"`
	TargetID  string        `json:"target_id"`
	TargetSeq uint64        `json:"target_seq"`
	Volumes   []DeltaVolume `json:"volumes"`
	Parts     []DeltaPart   `json:"parts,omitempty"`
}
