package api

import "time"

// Volume roles as they travel on the wire.
const (
	RoleBoot = "boot"
	RoleData = "data"
)

// Volume is one disk of a volume group.
type Volume struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	Size   int64  `json:"size"`
	Source string `json:"source"`
	Format string `json:"format"`
	QMP    string `json:"qmp,omitempty"`
}

// VG is a volume group.
type VG struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Created   time.Time `json:"created"`
	Volumes   []Volume  `json:"volumes"`
	Snapshots int       `json:"snapshots"`
	// Sealed is the key fingerprint of the newest snapshot its source
	// sealed (replicate --encrypt-for); empty when none was.
	Sealed string `json:"sealed,omitempty"`
	// Capture settings; see UpdateVGRequest.
	PreSnapshot  string `json:"pre_snapshot,omitempty"`
	PostSnapshot string `json:"post_snapshot,omitempty"`
	HookTimeout  string `json:"hook_timeout,omitempty"` // effective timeout, "60s"; empty without hooks
	LVMSnapshot  bool   `json:"lvm_snapshot,omitempty"`
	// Warnings are things the daemon accepted but the user should hear
	// about (a volume whose file name says another format); only the
	// answer to a create carries them.
	Warnings []string `json:"warnings,omitempty"`
}

// VolumeSource names one volume of a VG being created.
type VolumeSource struct {
	Name string `json:"name"`
	Role string `json:"role"`
	Path string `json:"path"` // absolute path of an image file or block device, or an NBD URI
}

// CreateVGRequest is the body of POST /v1/vgs.
type CreateVGRequest struct {
	Name    string         `json:"name"`
	Volumes []VolumeSource `json:"volumes"`
	// PreSnapshot and PostSnapshot are shell commands run around each
	// capture; HookTimeout bounds each ("60s"; empty: the default).
	PreSnapshot  string `json:"pre_snapshot,omitempty"`
	PostSnapshot string `json:"post_snapshot,omitempty"`
	HookTimeout  string `json:"hook_timeout,omitempty"`
	// LVMSnapshot reads each volume through a temporary LVM snapshot.
	LVMSnapshot bool `json:"lvm_snapshot,omitempty"`
	// QMP is the absolute path of the QMP socket of the QEMU process or
	// qemu-storage-daemon that serves the NBD volumes: each snapshot then
	// rotates a dirty bitmap per volume and reads only what it marks.
	QMP string `json:"qmp,omitempty"`
}

// CreateSnapshotRequest is the optional body of a snapshot create.
type CreateSnapshotRequest struct {
	// Full reads every volume whole, ignoring changed-block hints.
	Full bool `json:"full,omitempty"`
}

// VolumeSnapshot is one volume in a snapshot.
type VolumeSnapshot struct {
	VolumeID  string `json:"volume_id"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	Size      int64  `json:"size"`
	Manifest  string `json:"manifest"`
	DataBytes int64  `json:"data_bytes"`
	Chunks    int64  `json:"chunks"`
	Holes     int64  `json:"holes"`
	NewBytes  int64  `json:"new_bytes"`
	// StoredBytes is what the chunks and pages this snapshot added take in
	// the store, compressed; null for snapshots recorded before vmrep
	// counted it.
	StoredBytes *int64 `json:"stored_bytes"`
	// ReadBytes is what the snapshot read from the source (0: not counted,
	// for snapshots recorded before vmrep counted it).
	ReadBytes int64 `json:"read_bytes,omitempty"`
	// BaseBytes is what an exact changed-block hint (a dirty bitmap) took
	// from the previous snapshot's chunks instead of the source: the
	// unchanged bytes around each change.
	BaseBytes int64 `json:"base_bytes,omitempty"`
	// Sealed, when set, says the source sealed this volume's chunks
	// (replicate --encrypt-for) and names the key by its fingerprint: the
	// manifest names sealed chunks, which only that key opens. SealedTag
	// binds that manifest to the snapshot and volume under the key.
	Sealed    string `json:"sealed,omitempty"`
	SealedTag string `json:"sealed_tag,omitempty"`
	// DirtyBitmap is the QEMU dirty bitmap that tracks writes since this
	// snapshot; ReadNote says how the volume was read (what a bitmap
	// marked, or in full and why).
	DirtyBitmap string `json:"dirty_bitmap,omitempty"`
	ReadNote    string `json:"read_note,omitempty"`
}

// Snapshot is the state of a VG's volumes at one time.
type Snapshot struct {
	ID      string           `json:"id"`
	VGID    string           `json:"vg_id"`
	VGName  string           `json:"vg_name"`
	Seq     uint64           `json:"seq"`
	Parent  string           `json:"parent,omitempty"`
	Created time.Time        `json:"created"`
	Volumes []VolumeSnapshot `json:"volumes"`
	// Pin is set in list and show answers for a snapshot pinned with
	// snapshot pin.
	Pin *SnapshotPin `json:"pin,omitempty"`
}

// RestoreRequest is the body of POST /v1/restore.
type RestoreRequest struct {
	Snapshot string `json:"snapshot"` // "vg@seq" or "vg@latest"
	Volume   string `json:"volume"`   // volume name or id
	Output   string `json:"output"`   // absolute path the daemon writes
}

// VerifyRequest is the body of POST /v1/verify.
type VerifyRequest struct {
	ReadData bool `json:"read_data"`
}

// GoroutinesResponse is the body of GET /v1/debug/goroutines.
type GoroutinesResponse struct {
	Goroutines int `json:"goroutines"`
}
