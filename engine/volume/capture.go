package volume

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Hooks are the commands run around a VG's capture so that what is read is
// consistent: a pre hook (fsfreeze -f, a hypervisor's snapshot command) and a
// post hook that undoes it. Records written before hooks existed have none.
type Hooks struct {
	Pre  string `json:"pre,omitempty"`
	Post string `json:"post,omitempty"`
	// Timeout bounds each hook; zero means DefaultHookTimeout.
	Timeout Duration `json:"timeout,omitempty"`
}

// DefaultHookTimeout bounds a hook whose timeout is not set.
const DefaultHookTimeout = 60 * time.Second

// MaxHookTimeout is the longest timeout a hook may be given: a frozen file
// system must not stay frozen for long.
const MaxHookTimeout = time.Hour

// maxHookCommand bounds a hook command's length.
const maxHookCommand = 4096

// Empty reports whether no hook is set.
func (h *Hooks) Empty() bool { return h == nil || h.Pre == "" && h.Post == "" }

// EffectiveTimeout is Timeout or the default.
func (h *Hooks) EffectiveTimeout() time.Duration {
	if h == nil || h.Timeout <= 0 {
		return DefaultHookTimeout
	}
	return time.Duration(h.Timeout)
}

// Validate checks the hook commands and timeout.
func (h *Hooks) Validate() error {
	if h == nil {
		return nil
	}
	for _, c := range []struct{ name, cmd string }{{"pre-snapshot", h.Pre}, {"post-snapshot", h.Post}} {
		if len(c.cmd) > maxHookCommand {
			return fmt.Errorf("%s hook: command of %d bytes, at most %d", c.name, len(c.cmd), maxHookCommand)
		}
		if strings.ContainsRune(c.cmd, 0) {
			return fmt.Errorf("%s hook: command holds a NUL byte", c.name)
		}
		if c.cmd != "" && strings.TrimSpace(c.cmd) == "" {
			return fmt.Errorf("%s hook: command is only blanks", c.name)
		}
	}
	if h.Timeout < 0 || time.Duration(h.Timeout) > MaxHookTimeout {
		return fmt.Errorf("hook timeout %v: want 0 (default %v) up to %v", time.Duration(h.Timeout), DefaultHookTimeout, MaxHookTimeout)
	}
	return nil
}

// LVMSnapshot asks for a temporary LVM snapshot of each volume that is a
// logical volume, read instead of the live volume.
type LVMSnapshot struct {
	// Percent of the origin's size reserved for the snapshot's changes;
	// used when Size is zero (then zero means DefaultLVMSnapshotPercent).
	Percent int `json:"percent,omitempty"`
	// Size in bytes reserved for the snapshot's changes.
	Size int64 `json:"size,omitempty"`
}

// DefaultLVMSnapshotPercent is the copy-on-write space given to an LVM
// snapshot when no size is set.
const DefaultLVMSnapshotPercent = 10

// Validate checks the snapshot size settings.
func (l *LVMSnapshot) Validate() error {
	if l == nil {
		return nil
	}
	if l.Percent < 0 || l.Percent > 100 {
		return fmt.Errorf("lvm snapshot size %d%%: want 1 to 100", l.Percent)
	}
	if l.Size < 0 {
		return fmt.Errorf("lvm snapshot size %d: negative", l.Size)
	}
	return nil
}

// Duration is a time.Duration that reads and writes JSON as "60s" and also
// reads a number of nanoseconds.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil // encoding/json's convention: null leaves the value alone
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		v, err := time.ParseDuration(s[1 : len(s)-1])
		if err != nil {
			return fmt.Errorf("duration %s: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	// strconv, not fmt.Sscan: Sscan would read "1.5" as 1 and say nothing.
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("duration %s: want a string such as \"60s\"", s)
	}
	*d = Duration(n)
	return nil
}
