package api

// JobReplicaVerify is the kind of a replica verify job.
const JobReplicaVerify = "replica-verify"

// What a replica volume was verified against.
const (
	AgainstSnapshot = "snapshot" // the snapshot's manifest, chunk by chunk
	AgainstState    = "state"    // the manifest ID in state.json, by chunking the bytes again
)

// ReplicaDirRequest names a replica directory: the body of POST
// /v1/replicas/verify and /v1/replicas/show.
type ReplicaDirRequest struct {
	Dir string `json:"dir"` // absolute
}

// ReplicaCheck is one volume of a replica verify.
type ReplicaCheck struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	File       string `json:"file"`
	SnapshotID string `json:"snapshot_id"`
	Seq        uint64 `json:"seq"`
	Against    string `json:"against"`
	OK         bool   `json:"ok"`
	// The first differing range, -1 when not known (AgainstState), and how
	// many ranges differ.
	MismatchOffset int64  `json:"mismatch_offset"`
	MismatchLength int64  `json:"mismatch_length,omitempty"`
	Mismatches     int64  `json:"mismatches,omitempty"`
	Problem        string `json:"problem,omitempty"`
}

// ReplicaVerifyResult is the result of a replica verify job.
type ReplicaVerifyResult struct {
	Dir     string         `json:"dir"`
	VGID    string         `json:"vg_id"`
	VGName  string         `json:"vg_name"`
	OK      bool           `json:"ok"`
	Volumes []ReplicaCheck `json:"volumes"`
}

// ReplicaFile is one volume of a replica as replica show describes it.
type ReplicaFile struct {
	ReplicaVolume
	File string `json:"file"`
	Kind string `json:"kind"` // "file", "block device" or "missing"
}

// ReplicaJournal is an apply in progress (or interrupted) in a replica.
type ReplicaJournal struct {
	Delta   string   `json:"delta"`
	Base    string   `json:"base"`
	Target  string   `json:"target"`
	Volumes []string `json:"volumes"`
}

// ReplicaInfo is what replica show prints: state.json in full, the volume
// files, and the journal of an unfinished apply, if any.
type ReplicaInfo struct {
	Dir        string          `json:"dir"`
	StateFile  string          `json:"state_file"`
	VGID       string          `json:"vg_id"`
	VGName     string          `json:"vg_name"`
	SnapshotID string          `json:"snapshot_id,omitempty"`
	Seq        uint64          `json:"seq,omitempty"`
	Volumes    []ReplicaFile   `json:"volumes"`
	Applying   *ReplicaJournal `json:"applying,omitempty"`
}
