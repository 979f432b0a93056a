package api

import "time"

// JobSchedule is the kind of a job that is one run of a schedule.
const JobSchedule = "schedule"

// Results of a schedule run, as ScheduleStatus.LastResult says them.
const (
	RunOK     = "ok"
	RunFailed = "failed"
)

// ScheduleRequest sets the schedule of a volume group (PUT
// /v1/schedules/{vg}): every Every, in the phase At sets, the daemon
// takes a snapshot, then replicates it (ReplicateTo) or exports the delta
// since the previous run's snapshot into DeltaDir, then applies Keep.
type ScheduleRequest struct {
	Every string `json:"every"`        // Go duration, at least a minute: "15m", "24h"
	At    string `json:"at,omitempty"` // "HH:MM" local time the runs are anchored to; default 00:00
	// Replication target, as ReplicateRequest has it; Token and CAPEM are
	// kept by the daemon (file mode 0600) and never shown again.
	ReplicateTo string `json:"replicate_to,omitempty"`
	Token       string `json:"token,omitempty"`
	CAPEM       string `json:"ca_pem,omitempty"`
	ServerName  string `json:"server_name,omitempty"`
	Materialize string `json:"materialize,omitempty"`
	// DeltaDir receives one delta file per run after the first.
	DeltaDir string `json:"delta_dir,omitempty"`
	// Keep is a retention policy in the form "last=4,hourly=24,daily=7";
	// empty keeps every snapshot.
	Keep string `json:"keep,omitempty"`
	// Limit is a bandwidth limit on the wire for each run's replication,
	// "200Mbit", as replicate's.
	Limit string `json:"limit,omitempty"`
	// RPO is the recovery point objective, a Go duration ("30m"): the
	// most the newest snapshot at the schedule's destination may be behind
	// before the daemon warns; empty sets none. OnRPOBreach is a shell
	// command run (sh -c, as root) when the lag passes RPO and again when
	// it recovers, VMREP_EVENT=breach or clear; it needs RPO.
	RPO         string `json:"rpo,omitempty"`
	OnRPOBreach string `json:"on_rpo_breach,omitempty"`
}

// Schedule is a volume group's schedule and how its runs went.
type Schedule struct {
	VG          string         `json:"vg"`
	Every       string         `json:"every"`
	At          string         `json:"at"`
	ReplicateTo string         `json:"replicate_to,omitempty"`
	Materialize string         `json:"materialize,omitempty"`
	HasCA       bool           `json:"has_ca,omitempty"`
	DeltaDir    string         `json:"delta_dir,omitempty"`
	Keep        string         `json:"keep,omitempty"`
	Limit       string         `json:"limit,omitempty"`
	Paused      bool           `json:"paused"`
	Created     time.Time      `json:"created"`
	Status      ScheduleStatus `json:"status"`
	// RPO and OnRPOBreach are the request's; RPOState is where the
	// schedule stands against RPO (nil when it has none).
	RPO         string    `json:"rpo,omitempty"`
	OnRPOBreach string    `json:"on_rpo_breach,omitempty"`
	RPOState    *RPOState `json:"rpo_state,omitempty"`
}

// RPOState is a schedule's lag against its recovery point objective.
type RPOState struct {
	RPOSeconds float64 `json:"rpo_seconds"`
	// LagSeconds is the age of the newest snapshot that reached the
	// schedule's destination (before the first: the time since the RPO
	// was set).
	LagSeconds float64 `json:"lag_seconds"`
	Breached   bool    `json:"breached"`
	// BreachedSince is when the lag passed the RPO; nil while it has not.
	BreachedSince *time.Time `json:"breached_since,omitempty"`
}

// ScheduleStatus is what the daemon records of a schedule's runs.
type ScheduleStatus struct {
	// NextRun is when the next run is due; absent while paused.
	NextRun *time.Time `json:"next_run,omitempty"`
	// Running is the job of the run in progress, if any.
	Running string `json:"running,omitempty"`
	// LastRun is when the last run (ok or failed) started; LastResult is
	// RunOK or RunFailed, LastDuration its length in seconds.
	LastRun      *time.Time `json:"last_run,omitempty"`
	LastResult   string     `json:"last_result,omitempty"`
	LastDuration float64    `json:"last_duration_s,omitempty"`
	LastJob      string     `json:"last_job,omitempty"`
	// LastSnapshot is the snapshot the last good run took ("web@12"); the
	// next delta is exported from it.
	LastSnapshot string `json:"last_snapshot,omitempty"`
	// LastError and LastErrorTime are kept after later good runs.
	LastError     string     `json:"last_error,omitempty"`
	LastErrorTime *time.Time `json:"last_error_time,omitempty"`
	// Failures counts the failed runs since the last good one; the retry
	// waits 1m, 2m, 4m ... (at most the interval).
	Failures    int   `json:"consecutive_failures"`
	RunsOK      int64 `json:"runs_ok"`
	RunsFailed  int64 `json:"runs_failed"`
	RunsSkipped int64 `json:"runs_skipped"` // due while the previous run still ran
	// Removed counts the snapshots retention removed over all runs.
	Removed int64 `json:"snapshots_removed"`
}

// ScheduleRunResult is the result of a schedule-run job.
type ScheduleRunResult struct {
	Snapshot  string             `json:"snapshot"`
	Replicate *ReplicateResult   `json:"replicate,omitempty"`
	Delta     *DeltaExportResult `json:"delta,omitempty"`
	Removed   []string           `json:"removed,omitempty"` // snapshots retention removed
}
