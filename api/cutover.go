package api

import "time"

// JobCutover is the kind of a cutover job.
const JobCutover = "cutover"

// CutoverRequest is the body of POST /v1/vgs/{name}/cutover: the final
// sync of a volume group into its replica and the replica's launch for
// real, after which the group is no longer replicated on schedule.
type CutoverRequest struct {
	// Replica is the replica directory (absolute), already holding an
	// earlier snapshot of the group.
	Replica string `json:"replica"`
	// DryRun checks what can be checked and lists the steps, changing
	// nothing.
	DryRun bool `json:"dry_run,omitempty"`
	// Launch options, as in LaunchRequest.
	Timeout   time.Duration `json:"timeout,omitempty"`
	Ready     string        `json:"ready,omitempty"`
	Accel     string        `json:"accel,omitempty"`
	MemoryMiB int           `json:"memory_mib,omitempty"`
}

// CutoverStep is one step of a cutover, in order.
type CutoverStep struct {
	Name   string `json:"name"`   // "snapshot", "apply", "verify", "launch", "mark"
	Detail string `json:"detail"` // what it did, or in a dry run what it would do
	Done   bool   `json:"done"`
}

// CutoverResult is a cutover job's result.
type CutoverResult struct {
	VG      string `json:"vg"`
	Replica string `json:"replica"`
	DryRun  bool   `json:"dry_run,omitempty"`
	// From is the snapshot the replica was at; Snapshot the final one it
	// is at now (in a dry run: the one it would take, "vg@next").
	From     string        `json:"from"`
	Snapshot string        `json:"snapshot"`
	Steps    []CutoverStep `json:"steps"`
	// Launch is the replica's launch; the VM keeps running, owned by the
	// daemon.
	Launch *LaunchResult `json:"launch,omitempty"`
}

// CutoverStatus says a volume group was cut over: where and when. Its
// schedule no longer runs.
type CutoverStatus struct {
	At       time.Time `json:"at"`
	Snapshot string    `json:"snapshot"`
	Replica  string    `json:"replica"`
}
