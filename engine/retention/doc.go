// Package retention decides which snapshots a `snapshot forget` keeps: a
// pure policy over a list of (sequence number, time, pins), with no I/O and
// no knowledge of stores, volumes or replicas.
//
// The rules follow restic's `forget`: keep the N newest snapshots (Last),
// and the newest snapshot in each of the N newest hours, days, ISO weeks,
// months and years that hold a snapshot, counting back from the newest
// snapshot; buckets are wall-clock periods in a given time.Location. On
// top of the policy, two rules that no policy overrides: the newest
// snapshot is always kept, and so is every snapshot the caller pins (a
// replica based on it, an explicit `snapshot pin`). Every kept snapshot
// carries the reasons it is kept, for --dry-run output and logs.
package retention
