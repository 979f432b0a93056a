package capture

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/durable"
)

// SnapshotPrefix starts the name of every LVM snapshot this package makes.
const SnapshotPrefix = "vmrep-"

// ErrNotLV is wrapped when an LVM snapshot is asked of a source that is not
// a logical volume.
var ErrNotLV = errors.New("not an LVM logical volume")

// LVM takes and removes temporary snapshots, naming each in a state file
// before it is created and forgetting it after it is removed, so that a crash
// in between leaves a name for Cleanup. Safe for concurrent use.
type LVM struct {
	stateFile string
	mu        sync.Mutex
}

// NewLVM returns an LVM whose state file is stateFile; empty keeps no state.
func NewLVM(stateFile string) *LVM { return &LVM{stateFile: stateFile} }

// LV names a logical volume.
type LV struct {
	VG, Name string
	Size     int64
}

func (l LV) String() string { return l.VG + "/" + l.Name }

// runLVM runs an LVM command and returns its trimmed stdout.
func runLVM(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// LookupLV asks LVM which logical volume path is.
func LookupLV(ctx context.Context, path string) (LV, error) {
	out, err := runLVM(ctx, "lvs", "--noheadings", "--nosuffix", "--units", "b", "--separator", "|", "-o", "vg_name,lv_name,lv_size", path)
	if err != nil {
		return LV{}, fmt.Errorf("source %q: %w: %w", path, ErrNotLV, err)
	}
	f := strings.Split(out, "|")
	if len(f) != 3 {
		return LV{}, fmt.Errorf("source %q: %w: lvs said %q", path, ErrNotLV, out)
	}
	size, err := strconv.ParseInt(strings.TrimSpace(f[2]), 10, 64)
	if err != nil {
		return LV{}, fmt.Errorf("source %q: lvs size %q: %w", path, f[2], err)
	}
	return LV{VG: strings.TrimSpace(f[0]), Name: strings.TrimSpace(f[1]), Size: size}, nil
}

// snapshotSize is the copy-on-write space for a snapshot of origin.
func snapshotSize(origin LV, cfg *volume.LVMSnapshot) int64 {
	if cfg != nil && cfg.Size > 0 {
		return cfg.Size
	}
	pct := volume.DefaultLVMSnapshotPercent
	if cfg != nil && cfg.Percent > 0 {
		pct = cfg.Percent
	}
	return max(origin.Size*int64(pct)/100, 1<<20)
}

// Snapshot takes a snapshot of the logical volume at path and returns it and
// the device path to read it from. The caller must Remove it.
func (m *LVM) Snapshot(ctx context.Context, path string, cfg *volume.LVMSnapshot) (LV, string, error) {
	origin, err := LookupLV(ctx, path)
	if err != nil {
		return LV{}, "", err
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	snap := LV{VG: origin.VG, Name: SnapshotPrefix + hex.EncodeToString(rnd[:])}
	if err := m.remember(snap, true); err != nil {
		return LV{}, "", err
	}
	size := snapshotSize(origin, cfg)
	if _, err := runLVM(ctx, "lvcreate", "--snapshot", "--name", snap.Name, "--size", fmt.Sprintf("%db", size), origin.String()); err != nil {
		// lvcreate may have left the LV behind when it failed late.
		m.Remove(context.WithoutCancel(ctx), snap)
		return LV{}, "", fmt.Errorf("snapshot of %s: %w", origin, err)
	}
	dev, err := devicePath(ctx, snap)
	if err != nil {
		m.Remove(context.WithoutCancel(ctx), snap)
		return LV{}, "", err
	}
	return snap, dev, nil
}

// devicePath finds a node for lv that exists: /dev/VG/LV when udev made it,
// else the device-mapper name.
func devicePath(ctx context.Context, lv LV) (string, error) {
	out, err := runLVM(ctx, "lvs", "--noheadings", "--separator", "|", "-o", "lv_path,lv_dm_path", lv.String())
	if err != nil {
		return "", err
	}
	for _, p := range strings.Split(out, "|") {
		if p = strings.TrimSpace(p); p != "" {
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("snapshot %s: no device node among %q", lv, out)
}

// Remove removes a snapshot this package made and forgets it. A snapshot
// that is already gone counts as removed.
func (m *LVM) Remove(ctx context.Context, lv LV) error {
	if !strings.HasPrefix(lv.Name, SnapshotPrefix) {
		return fmt.Errorf("refusing to remove %s: not a %s* snapshot", lv, SnapshotPrefix)
	}
	if _, err := runLVM(ctx, "lvremove", "-f", lv.String()); err != nil {
		if _, lerr := LookupLV(ctx, lv.String()); lerr == nil {
			return fmt.Errorf("remove snapshot %s: %w", lv, err)
		}
	}
	return m.remember(lv, false)
}

// Cleanup removes the snapshots the state file names, left behind by a
// process that died between creating and removing them, and returns them.
func (m *LVM) Cleanup(ctx context.Context) ([]LV, error) {
	m.mu.Lock()
	names, err := m.load()
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var removed []LV
	var errs []error
	for _, n := range names {
		vg, name, ok := strings.Cut(n, "/")
		if !ok {
			errs = append(errs, fmt.Errorf("state file %s: bad entry %q", m.stateFile, n))
			continue
		}
		lv := LV{VG: vg, Name: name}
		if err := m.Remove(ctx, lv); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, lv)
	}
	return removed, errors.Join(errs...)
}

// remember adds lv to the state file (add) or drops it.
func (m *LVM) remember(lv LV, add bool) error {
	if m.stateFile == "" {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	names, err := m.load()
	if err != nil {
		return err
	}
	kept := names[:0]
	for _, n := range names {
		if n != lv.String() {
			kept = append(kept, n)
		}
	}
	if add {
		kept = append(kept, lv.String())
	}
	return m.store(kept)
}

func (m *LVM) load() ([]string, error) {
	if m.stateFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(m.stateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lvm state %s: %w", m.stateFile, err)
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, fmt.Errorf("decode lvm state %s: %w", m.stateFile, err)
	}
	return names, nil
}

// store replaces the state file through a synced temporary file, so a crash
// leaves the old list or the new one.
func (m *LVM) store(names []string) error {
	b, err := json.Marshal(names)
	if err != nil {
		return err
	}
	if err := durable.WriteFile(m.stateFile, b, 0o600); err != nil {
		return fmt.Errorf("lvm state: %w", err)
	}
	return nil
}
