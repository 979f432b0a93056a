package api

import "time"

// MountRequest asks the daemon to serve the store read-only through FUSE
// at Dir, an absolute path to an existing directory outside the store.
type MountRequest struct {
	Dir        string `json:"dir"`
	AllowOther bool   `json:"allow_other,omitempty"`
	// CacheSize bounds the decompressed chunks kept in memory, in bytes;
	// 0 asks for the daemon's default.
	CacheSize int64 `json:"cache_size,omitempty"`
	// Force mounts over a directory that is not empty, hiding its files.
	Force bool `json:"force,omitempty"`
}

// UnmountRequest asks the daemon to unmount Dir.
type UnmountRequest struct {
	Dir string `json:"dir"`
}

// MountInfo is one active mount. Dir is the real path of the mount point
// and CacheSize the size in force, never 0.
type MountInfo struct {
	Dir        string    `json:"dir"`
	AllowOther bool      `json:"allow_other,omitempty"`
	CacheSize  int64     `json:"cache_size"`
	Since      time.Time `json:"since"`
}
