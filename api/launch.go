package api

import "time"

// JobLaunch is the kind of a launch job.
const JobLaunch = "launch"

// CodeBootFailed: the guest did not become ready (firmware, kernel or
// timeout), or a check run in it failed. The job's result says why and
// holds the console's tail.
const CodeBootFailed = "boot_failed"

// Accelerators of a launch.
const (
	AccelAuto = "auto"
	AccelKVM  = "kvm"
	AccelTCG  = "tcg"
)

// LaunchRequest is the body of POST /v1/launch.
type LaunchRequest struct {
	Dir string `json:"dir"` // the replica directory, absolute
	// Snapshot is the snapshot the caller expects the replica to be at
	// ("web@2"); a replica at another is refused.
	Snapshot string `json:"snapshot"`
	// Test boots on copy-on-write overlays and tears the VM down once
	// ready; it is the only mode POST /v1/launch serves.
	Test    bool          `json:"test"`
	Timeout time.Duration `json:"timeout,omitempty"` // 0: 2 minutes
	Ready   string        `json:"ready,omitempty"`   // a regular expression; empty: a login prompt or systemd's multi-user target
	Accel   string        `json:"accel,omitempty"`   // auto (empty), kvm or tcg
	Checks  []string      `json:"checks,omitempty"`  // shell commands run in the guest, through its agent, after readiness
	// MemoryMiB is the guest's memory; 0: 512.
	MemoryMiB int `json:"memory_mib,omitempty"`
}

// LaunchCheck is one command run in the guest.
type LaunchCheck struct {
	Command  string `json:"command"`
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr,omitempty"`
}

// LaunchResult is the result of a launch job, also when it failed.
type LaunchResult struct {
	Dir         string        `json:"dir"`
	Snapshot    string        `json:"snapshot"` // "web@2"
	Mode        string        `json:"mode"`     // "test" (overlays, torn down) or "real"
	Instance    string        `json:"instance,omitempty"`
	Accel       string        `json:"accel"`
	AccelNote   string        `json:"accel_note,omitempty"`
	Firmware    string        `json:"firmware"` // bios or uefi
	Ready       bool          `json:"ready"`
	BootSeconds float64       `json:"boot_seconds"`
	ReadyLine   string        `json:"ready_line,omitempty"`
	Volumes     []string      `json:"volumes"` // volume IDs in boot order, as the guest sees them (disk serials)
	Console     []string      `json:"console"`
	FirmwareLog []string      `json:"firmware_log,omitempty"`
	Checks      []LaunchCheck `json:"checks,omitempty"`
	Reason      string        `json:"reason,omitempty"`
}

// Instance is a VM the daemon runs from a replica (a real launch): GET
// /v1/instances lists them, DELETE /v1/instances/{id} stops one.
type Instance struct {
	ID       string    `json:"id"`
	Dir      string    `json:"dir"`
	Snapshot string    `json:"snapshot"`
	PID      int       `json:"pid"`
	Accel    string    `json:"accel"`
	Firmware string    `json:"firmware"`
	Started  time.Time `json:"started"`
	Running  bool      `json:"running"`
}
