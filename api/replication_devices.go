package api

// How a replication server brought a block device to the snapshot.
const (
	DeviceCurrent = "current" // it held the snapshot already (read back to check)
	DeviceDelta   = "delta"   // the delta from the snapshot it held, in place
	DeviceFull    = "full"    // the whole volume written
)

// DeviceWrite is one volume a materialize wrote into a block device.
type DeviceWrite struct {
	VolumeID string `json:"volume_id"`
	Name     string `json:"name"`
	Device   string `json:"device"` // as the request named it
	How      string `json:"how"`    // DeviceCurrent, DeviceDelta or DeviceFull
	From     uint64 `json:"from,omitempty"`
	// WrittenBytes is what went to the device: the changed bytes of a
	// delta, the volume's size for a full write, 0 when current.
	WrittenBytes int64 `json:"written_bytes"`
	// Verified is true once the device was read back against the
	// snapshot's manifest; a materialize that could not verify fails.
	Verified bool `json:"verified"`
	// Note says why a delta was not used, when a full write replaced it.
	Note string `json:"note,omitempty"`
}
