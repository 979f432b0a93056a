package api

import "time"

// StatusReport is the answer of GET /v1/status and GET /v1/status/{vg}: where
// each volume group stands, for `vmrep status`. doc/design.md, "Status",
// says what every field means.
type StatusReport struct {
	// Time is the daemon's clock when it answered; ages and lags are
	// measured from it.
	Time time.Time  `json:"time"`
	VGs  []VGStatus `json:"vgs"`
	// BucketWaits lists the jobs waiting for a lock another daemon holds
	// on the shared bucket: "<kind> <target>: <who holds it, until when>".
	BucketWaits []string `json:"bucket_waits,omitempty"`
}

// VGStatus is one volume group's part of StatusReport.
type VGStatus struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	// LastSnapshot is the newest local snapshot; nil when there is none.
	LastSnapshot *StatusSnapshot `json:"last_snapshot,omitempty"`
	// Targets are the replication servers this daemon pushed the VG to.
	Targets []TargetStatus `json:"targets"`
	// Transfer is the replicate job of the VG running now, if any.
	Transfer *StatusTransfer `json:"transfer,omitempty"`
	// LastError is the newest job of the VG that failed, if any.
	LastError *StatusError `json:"last_error,omitempty"`
	// Schedule is the VG's replication schedule; absent when it has none.
	Schedule *StatusSchedule `json:"schedule,omitempty"`
	// CutOver says the VG was cut over to a replica (vmrep cutover); its
	// schedule no longer runs. Absent before.
	CutOver *CutoverStatus `json:"cut_over,omitempty"`
}

// StatusSnapshot names one snapshot and when it was taken.
type StatusSnapshot struct {
	Name    string    `json:"name"` // "web@3"
	Seq     uint64    `json:"seq"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

// TargetStatus is how far one replication server is behind.
type TargetStatus struct {
	To string `json:"to"`
	// Snapshot is the newest snapshot of the VG pushed there.
	Snapshot StatusSnapshot `json:"snapshot"`
	// Pushed is when that push ended; nil when the daemon that pushed
	// did not record it.
	Pushed *time.Time `json:"pushed,omitempty"`
	// LagSeconds is Time minus Snapshot.Created: the recovery point the
	// target holds now.
	LagSeconds float64 `json:"lag_seconds"`
	// BacklogBytes is the sum of the volumes' backlog.
	BacklogBytes int64 `json:"backlog_bytes"`
	// Volumes is the backlog per volume of the newest local snapshot.
	Volumes []VolumeBacklog `json:"volumes"`
	// BacklogError says why the backlog could not be computed (0 then).
	BacklogError string `json:"backlog_error,omitempty"`
}

// VolumeBacklog is one volume's logical bytes not yet on a target.
type VolumeBacklog struct {
	Name         string `json:"name"`
	VolumeID     string `json:"volume_id"`
	BacklogBytes int64  `json:"backlog_bytes"`
}

// StatusTransfer is a running replicate job.
type StatusTransfer struct {
	JobID   string    `json:"job_id"`
	Target  string    `json:"target"` // the job's target: "web@3 to host:7443"
	State   string    `json:"state"`  // running or queued
	Phase   string    `json:"phase"`
	Started time.Time `json:"started"`
	// DoneBytes and TotalBytes are the logical bytes sent and to send in
	// the current phase (send: blob bytes).
	DoneBytes  int64 `json:"done_bytes"`
	TotalBytes int64 `json:"total_bytes"`
	// RateBytes is the smoothed rate of DoneBytes, bytes per second.
	RateBytes float64 `json:"rate_bytes"`
	// ETASeconds is (TotalBytes-DoneBytes)/RateBytes; absent while the
	// rate is 0.
	ETASeconds *float64 `json:"eta_seconds,omitempty"`
}

// StatusError is the last failed job of a VG.
type StatusError struct {
	JobID   string    `json:"job_id"`
	Kind    string    `json:"kind"`
	Target  string    `json:"target"`
	Time    time.Time `json:"time"` // when the job ended
	Code    string    `json:"code"`
	Message string    `json:"message"`
}

// StatusSchedule is a VG's replication schedule, filled by the scheduler.
type StatusSchedule struct {
	Every      string     `json:"every"`
	Paused     bool       `json:"paused"`
	NextRun    *time.Time `json:"next_run,omitempty"`
	LastRun    *time.Time `json:"last_run,omitempty"`
	LastResult string     `json:"last_result,omitempty"` // RunOK or RunFailed
	LastError  string     `json:"last_error,omitempty"`
	// RPOSeconds is the schedule's recovery point objective, 0 when it
	// has none; RPOLagSeconds the lag measured against it (see
	// RPOState); RPOBreached says the lag is past it, since
	// BreachedSince.
	RPOSeconds    float64    `json:"rpo_seconds,omitempty"`
	RPOLagSeconds float64    `json:"rpo_lag_seconds,omitempty"`
	RPOBreached   bool       `json:"rpo_breached,omitempty"`
	BreachedSince *time.Time `json:"breached_since,omitempty"`
}
