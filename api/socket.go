package api

import (
	"os"
	"path/filepath"
	"strconv"
)

// SocketEnv names the environment variable that overrides the socket path.
const SocketEnv = "VMREP_SOCKET"

// DefaultSocket is where vmrepd listens and vmrep connects by default:
// /run/vmrep/vmrepd.sock for root, $XDG_RUNTIME_DIR/vmrep/vmrepd.sock
// otherwise (a per-user directory nobody else can enter).
func DefaultSocket() string {
	if os.Geteuid() == 0 {
		return "/run/vmrep/vmrepd.sock"
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "vmrep-"+strconv.Itoa(os.Geteuid()))
	}
	return filepath.Join(dir, "vmrep", "vmrepd.sock")
}
