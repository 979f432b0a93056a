package api

import "time"

// JobReplicate is the kind of a job that sends a snapshot to a replication
// server.
const JobReplicate = "replicate"

// CodeUnauthorized answers a replication request without the right bearer
// token (HTTP 401; Status maps only the Unix-socket codes).
const CodeUnauthorized = "unauthorized"

// Replication endpoints: served only on the TCP listener, under TLS and a
// bearer token, never on the Unix socket's admin API.
const (
	ReplVGsPath       = "/v1/repl/vgs"
	ReplMissingPath   = "/v1/repl/missing"
	ReplBlobsPath     = "/v1/repl/blobs"
	ReplSnapshotsPath = "/v1/repl/snapshots"
	ReplReplicasPath  = "/v1/repl/replicas"
)

// ReplSourceHeader carries the sending source's identity (its store's ID)
// on every replication request. The server records which source created
// a VG and refuses writes to it from another; with one shared token this
// stops mistakes, not a token holder who claims another's ID.
const ReplSourceHeader = "Vmrep-Source"

// MaxMissingBatch bounds the IDs of one POST /v1/repl/missing; its body is
// the IDs, 32 raw bytes each, so it stays at 2 MiB.
const MaxMissingBatch = 1 << 16

// ReplicateRequest is the body of POST /v1/replicate on the local daemon.
// The CLI reads the token and CA files, so the daemon never opens a file a
// caller named for it.
type ReplicateRequest struct {
	Snapshot    string `json:"snapshot"` // "vg@seq"
	To          string `json:"to"`       // HOST:PORT of the replication server
	Token       string `json:"token"`
	CAPEM       string `json:"ca_pem,omitempty"`      // trust these roots instead of the system's
	ServerName  string `json:"server_name,omitempty"` // TLS name to check; default the host of To
	Materialize string `json:"materialize,omitempty"` // replica directory on the server, under its replica root
	// Devices, with Materialize, has the server write these volumes (by
	// ID) into these block devices of its own (ReplReplicaRequest.Devices).
	Devices map[string]string `json:"devices,omitempty"`
	// Limit bounds the rate of the blob streams on the wire, in any form
	// the daemon's rate parser reads ("200Mbit", "50MiB/s"); empty or
	// "unlimited" is no limit. A bad value is refused with CodeInvalid.
	Limit string `json:"limit,omitempty"`
	// EncryptFor, with SourceKey, seals every chunk on this source for
	// that tenancy before it leaves: the server stores ciphertext it
	// cannot read. SourceKey is a key file's content (64 hex digits); it is held only by the job that uses it, and passed on to
	// the server only with Materialize.
	EncryptFor string `json:"encrypt_for,omitempty"`
	SourceKey  []byte `json:"source_key,omitempty"`
}

// ReplicateResult is the result of a replicate job.
type ReplicateResult struct {
	Snapshot     string `json:"snapshot"`
	To           string `json:"to"`
	VGID         string `json:"vg_id"`
	SnapshotID   string `json:"snapshot_id"`
	Seq          uint64 `json:"seq"`
	Blobs        int64  `json:"blobs"`           // distinct pages and chunks the snapshot names
	SentBlobs    int64  `json:"sent_blobs"`      // the server lacked them
	SentBytes    int64  `json:"sent_bytes"`      // raw bytes of the blobs sent
	SkippedBlobs int64  `json:"skipped_blobs"`   // the server had them
	WireBytes    int64  `json:"wire_bytes"`      // bytes of blob streams, framing included, blobs in their stored (compressed) form
	Limit        string `json:"limit,omitempty"` // the rate limit the streams ran under, as "200Mbit/s"; absent when none
	Committed    bool   `json:"committed"`       // false when the server already held the snapshot
	// SealedChunks, in a send with EncryptFor, counts the chunks sealed
	// by this run; the others' sealed IDs came from earlier sends.
	SealedChunks int64          `json:"sealed_chunks,omitempty"`
	Replica      *ReplicaResult `json:"replica,omitempty"`
}

// ReplVG is the body of POST /v1/repl/vgs: a VG as the source knows it.
// Identifiers travel unchanged, so a volume has one ID everywhere.
type ReplVG struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	NextSeq uint64    `json:"next_seq"`
	Volumes []Volume  `json:"volumes"` // Source is not sent
	// Sealed is the fingerprint of the key the sender seals this send's
	// chunks under (replicate --encrypt-for), empty for a plain send. The
	// server refuses a send that does not match how it holds the VG.
	Sealed string `json:"sealed,omitempty"`
	// Seq is the snapshot this send commits (0: not said), so that a
	// sealed send of a snapshot the server already holds in clear is
	// refused before its chunks are sealed and sent for nothing.
	Seq uint64 `json:"seq,omitempty"`
}

// ReplMissingResult answers POST /v1/repl/missing: indexes, into the
// request's IDs, of the blobs the server's store lacks, ascending.
type ReplMissingResult struct {
	Missing []int `json:"missing"`
}

// ReplBlobsResult answers POST /v1/repl/blobs once every blob of the
// stream is durable.
type ReplBlobsResult struct {
	Blobs  int64 `json:"blobs"`
	Bytes  int64 `json:"bytes"`
	Stored int64 `json:"stored"` // blobs that were new to the store
}

// ReplSnapshotResult answers POST /v1/repl/snapshots.
type ReplSnapshotResult struct {
	Snapshot  Snapshot `json:"snapshot"`
	Committed bool     `json:"committed"` // false: an identical record was already there
}

// ReplReplicaRequest is the body of POST /v1/repl/replicas: write a
// replicated snapshot into block storage on the server.
type ReplReplicaRequest struct {
	VGID string `json:"vg_id"`
	Seq  uint64 `json:"seq"`
	Dir  string `json:"dir"` // relative to the server's replica root
	// Devices binds volume IDs to block devices on the server (paths
	// inside its --device-root): only these volumes are written, each into
	// its device. Empty: every volume, as files (or existing links) in Dir.
	Devices map[string]string `json:"devices,omitempty"`
	// SourceKey and SealedFor open a snapshot its source sealed
	// (ReplicateRequest.EncryptFor): the server holds the key in this
	// request's memory only, to write the replica, and never stores it.
	SourceKey []byte `json:"source_key,omitempty"`
	SealedFor string `json:"sealed_for,omitempty"`
}
