package api

import "time"

// ForgetRequest is the body of POST /v1/vgs/{name}/forget: a retention
// policy and whether to only say what it would remove. Counts keep the
// newest snapshot of each of the N newest periods that have one; -1 keeps
// every period. Within is a duration ("36h", "7d", "2w"); empty: none. A
// request without any rule is refused.
type ForgetRequest struct {
	Last    int    `json:"last,omitempty"`
	Hourly  int    `json:"hourly,omitempty"`
	Daily   int    `json:"daily,omitempty"`
	Weekly  int    `json:"weekly,omitempty"`
	Monthly int    `json:"monthly,omitempty"`
	Yearly  int    `json:"yearly,omitempty"`
	Within  string `json:"within,omitempty"`
	DryRun  bool   `json:"dry_run,omitempty"`
}

// ForgetDecision is one snapshot and why it is kept; Reasons is empty for
// a snapshot the policy removes. Removed says it was deleted (never in a
// dry run).
type ForgetDecision struct {
	Seq     uint64    `json:"seq"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Reasons []string  `json:"reasons,omitempty"`
	Removed bool      `json:"removed,omitempty"`
}

// ForgetResult is the answer to a forget: the policy in its canonical
// form ("last=3,daily=7"), the snapshots kept and those the policy
// removes, newest first.
type ForgetResult struct {
	VG     string           `json:"vg"`
	Policy string           `json:"policy"`
	DryRun bool             `json:"dry_run"`
	Keep   []ForgetDecision `json:"keep"`
	Remove []ForgetDecision `json:"remove"`
}

// PinRequest is the body of POST /v1/vgs/{name}/snapshots/{seq}/pin.
type PinRequest struct {
	Note string `json:"note,omitempty"`
}

// SnapshotPin is an explicit pin: the snapshot is kept by forget and
// deleted only with --force until it is unpinned.
type SnapshotPin struct {
	Note   string    `json:"note,omitempty"`
	Pinned time.Time `json:"pinned"`
}
