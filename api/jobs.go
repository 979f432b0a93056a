package api

import (
	"encoding/json"
	"time"
)

// Job kinds.
const (
	JobSnapshot = "snapshot"
	JobRestore  = "restore"
	JobVerify   = "verify"
)

// Job states. A job starts running, or queued when it must wait for the
// store (a gc waits for running jobs, jobs wait behind a queued or running
// gc), and ends in exactly one of done, failed and canceled.
const (
	StateQueued   = "queued"
	StateRunning  = "running"
	StateDone     = "done"
	StateFailed   = "failed"
	StateCanceled = "canceled"
)

// Final reports whether a state is one a job never leaves.
func Final(state string) bool {
	return state == StateDone || state == StateFailed || state == StateCanceled
}

// Job is a long-running piece of work in the daemon.
type Job struct {
	ID       string          `json:"id"`
	Kind     string          `json:"kind"`
	Target   string          `json:"target"` // what it works on: "web", "web@2", "store"
	State    string          `json:"state"`
	Started  time.Time       `json:"started"`
	Finished *time.Time      `json:"finished,omitempty"`
	Phase    string          `json:"phase,omitempty"`
	Done     int64           `json:"done"`
	Total    int64           `json:"total"`
	Error    *Error          `json:"error,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
}

// Event is one line of GET /v1/jobs/{id}/events. The last event of a stream
// has a final State and carries the Result or the Error.
type Event struct {
	Time    time.Time       `json:"time"`
	Phase   string          `json:"phase"`
	Done    int64           `json:"done"`
	Total   int64           `json:"total"`
	Rate    float64         `json:"rate"` // bytes (or units) per second
	Message string          `json:"message,omitempty"`
	State   string          `json:"state"`
	Error   *Error          `json:"error,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
}

// RestoreResult is the result of a restore job.
type RestoreResult struct {
	Snapshot  string `json:"snapshot"`
	Volume    string `json:"volume"`
	Output    string `json:"output"`
	Size      int64  `json:"size"`
	DataBytes int64  `json:"data_bytes"`
	Chunks    int64  `json:"chunks"`
	Holes     int64  `json:"holes"`
}

// VerifyResult is the result of a verify job, also when it failed.
type VerifyResult struct {
	Packs       int      `json:"packs"`
	Blobs       int64    `json:"blobs"`
	StoredBytes int64    `json:"stored_bytes"`
	RawBytes    int64    `json:"raw_bytes"`
	Snapshots   int      `json:"snapshots"`
	Volumes     int      `json:"volumes"`
	Problems    []string `json:"problems"`
	// Tenancies is the verification of each tenancy the server hosts
	// besides its own store, by name, for an admin caller; the figures and
	// problems above are the server's own store's.
	Tenancies map[string]VerifyResult `json:"tenancies,omitempty"`
}
