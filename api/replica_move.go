package api

// How a replica create --at brought a replica to its snapshot.
const (
	MovedByDelta   = "delta"     // by the delta from the snapshot it held
	MovedCurrent   = "current"   // it was there already; nothing written
	MovedCreated   = "created"   // the directory held no replica; written whole
	MovedRewritten = "rewritten" // --force; written whole over what it held
)

// ReplicaMoveResult is the result of a replica create --at job: the replica
// as its state file says afterwards, where it came from, and how many bytes
// of its volume files were written against how many they hold.
type ReplicaMoveResult struct {
	ReplicaResult
	From string `json:"from,omitempty"` // "web@3"; empty when the directory held no replica
	How  string `json:"how"`
	// WrittenBytes counts the volume bytes written: the ranges the delta
	// changed, or every volume's size when written whole. VolumeBytes is
	// the sum of the target's volume sizes.
	WrittenBytes int64 `json:"written_bytes"`
	VolumeBytes  int64 `json:"volume_bytes"`
	// Delta sums up the delta applied (How "delta" only).
	Delta *DeltaSummary `json:"delta,omitempty"`
}
