// Package capture makes a volume group's sources consistent for the time
// they are read: it runs the VG's pre- and post-snapshot hook commands (to
// freeze a file system or ask a hypervisor for a snapshot) and takes, reads
// through and removes temporary LVM snapshots of logical volumes.
//
// Its promises: the post hook runs whenever the pre hook was started, also
// when the pre hook or the read failed; a hook that outlives its timeout is
// killed with its whole process group; an LVM snapshot it creates is removed
// on every path, and one left behind by a crash is named in a state file that
// Cleanup removes at the next start.
//
// It knows the volume model's Hooks and LVMSnapshot settings and the
// commands sh, lvs, lvcreate and lvremove; it knows nothing of chunks, the
// store, the daemon or its jobs.
package capture
