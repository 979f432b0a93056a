package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/durable"
)

// cutoversFile records the volume groups that were cut over (vmrep
// cutover): the group's schedule no longer runs, and the replica it was
// cut over to is a running VM's disks, no longer a replica that deltas or
// a replica create may write.
const cutoversFile = "cutovers.json"

type cutoverRecord struct {
	VGID       string    `json:"vg_id"`
	VGName     string    `json:"vg_name"`
	Snapshot   string    `json:"snapshot"` // "web@4"
	SnapshotID string    `json:"snapshot_id"`
	Replica    string    `json:"replica"`
	At         time.Time `json:"at"`
}

type cutoversData struct {
	CutOver []cutoverRecord `json:"cut_over"`
}

// cutoverStore is cutoversFile in memory, written through on each change.
// A file that cannot be read makes every group count as cut over (no
// schedule runs, no replica is written) until it is fixed: replicating
// into a live VM's disks is the mistake it exists to prevent.
type cutoverStore struct {
	path string
	mu   struct {
		sync.Mutex
		data    cutoversData
		loadErr error
	}
}

func newCutoverStore(storeDir string) *cutoverStore {
	c := &cutoverStore{path: filepath.Join(storeDir, cutoversFile)}
	b, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return c
	}
	var d cutoversData
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	if err != nil {
		c.mu.loadErr = fmt.Errorf("reading cut-over volume groups from %s: %w; fix or remove the file and restart vmrepd", c.path, err)
		return c
	}
	c.mu.data = d
	return c
}

// err is the error reading the file at start, nil when it was read.
func (c *cutoverStore) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.loadErr
}

// get returns vgID's record; ok is also true, with an empty record, when
// the file could not be read.
func (c *cutoverStore) get(vgID string) (cutoverRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.loadErr != nil {
		return cutoverRecord{VGID: vgID}, true
	}
	for _, r := range c.mu.data.CutOver {
		if r.VGID == vgID {
			return r, true
		}
	}
	return cutoverRecord{}, false
}

// mark records rec, durably, before it returns.
func (c *cutoverStore) mark(rec cutoverRecord) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.loadErr != nil {
		return c.mu.loadErr
	}
	d := cutoversData{CutOver: append(append([]cutoverRecord(nil), c.mu.data.CutOver...), rec)}
	b, err := json.MarshalIndent(d, "", "  ")
	if err == nil {
		err = durable.WriteFile(c.path, append(b, '\n'), 0o600)
	}
	if err != nil {
		return fmt.Errorf("recording the cutover: %w", err)
	}
	c.mu.data = d
	return nil
}

// refuseLive refuses a write into dir when a group was cut over to it.
func (c *cutoverStore) refuseLive(dir string) *api.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.loadErr != nil {
		return api.Errorf(api.CodeConflict, "%v", c.mu.loadErr)
	}
	for _, r := range c.mu.data.CutOver {
		if sameDir(r.Replica, dir) {
			return api.Errorf(api.CodeConflict, "%s is the replica %s was cut over to at %s (%s): it holds a running VM's disks now, not a replica to write",
				dir, r.VGName, r.At.UTC().Format(time.RFC3339), r.Snapshot)
		}
	}
	return nil
}

// sameDir says whether a and b name one directory (by path, or by inode
// when both exist).
func sameDir(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

func (r cutoverRecord) toAPI() *api.CutoverStatus {
	return &api.CutoverStatus{At: r.At, Snapshot: r.Snapshot, Replica: r.Replica}
}
