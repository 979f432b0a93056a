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

// JobReplica is the kind of a replica job.
const JobReplica = "replica"

// ReplicaRequest is the body of POST /v1/replicas.
type ReplicaRequest struct {
	Snapshot string `json:"snapshot"`
	Dir      string `json:"dir"`              // absolute; created if absent
	Volume   string `json:"volume,omitempty"` // name or id; empty: every volume
	// Force writes the snapshot over a replica at another snapshot (rolling
	// it back or forward) or of another volume group; without it such a
	// create is refused.
	Force bool `json:"force,omitempty"`
	// At moves a replica already in Dir to Snapshot by one delta from the
	// snapshot it holds, forward or back (replica create --at); the job's
	// result is a ReplicaMoveResult. A Dir without a replica is written
	// whole, as without At.
	At bool `json:"at,omitempty"`
}

// ReplicaVolume is one volume file of a replica.
type ReplicaVolume struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	Size       int64  `json:"size"`
	Manifest   string `json:"manifest"`
	SnapshotID string `json:"snapshot_id"`
	Seq        uint64 `json:"seq"`
}

// ReplicaResult is the result of a replica job and of a delta apply: what
// the replica's state file says afterwards.
type ReplicaResult struct {
	Dir        string          `json:"dir"`
	VGID       string          `json:"vg_id"`
	VGName     string          `json:"vg_name"`
	SnapshotID string          `json:"snapshot_id,omitempty"` // set when every volume is at one snapshot
	Seq        uint64          `json:"seq,omitempty"`
	Volumes    []ReplicaVolume `json:"volumes"`
	// Devices says, for a materialize into block devices, how each device
	// was written; absent otherwise.
	Devices []DeviceWrite `json:"devices,omitempty"`
}
