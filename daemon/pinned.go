package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/durable"
)

// pinsFile holds the snapshots pinned with `snapshot pin`. Unlike
// replicasFile it is the user's word, not a hint: a damaged file is not
// read as "no pins" but makes forget and delete refuse until it is fixed
// or removed.
const pinsFile = "pins.json"

// explicitPin is one pinned snapshot, named by its ID so that a snapshot
// deleted with --force and a later one with the same seq is not pinned.
type explicitPin struct {
	VGID       string    `json:"vg_id"`
	SnapshotID string    `json:"snapshot_id"`
	Seq        uint64    `json:"seq"`
	Note       string    `json:"note,omitempty"`
	Pinned     time.Time `json:"pinned"`
}

type pinsData struct {
	Pins []explicitPin `json:"pins"`
}

// pinStore is pinsFile in memory; every change is written through
// (durable.WriteFile) before it returns.
type pinStore struct {
	path string
	mu   struct {
		sync.Mutex
		data    pinsData
		loadErr error // the file could not be read: every pin is unknown
	}
}

func newPinStore(storeDir string) *pinStore {
	p := &pinStore{path: filepath.Join(storeDir, pinsFile)}
	b, err := os.ReadFile(p.path)
	if errors.Is(err, os.ErrNotExist) {
		return p
	}
	var d pinsData
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	if err != nil {
		p.mu.loadErr = fmt.Errorf("reading pinned snapshots from %s: %w; fix or remove the file and restart vmrepd", p.path, err)
		return p
	}
	p.mu.data = d
	return p
}

// err is the error reading the file at start, nil when it was read.
func (p *pinStore) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.loadErr
}

// pin records sn as pinned with note, replacing an earlier note.
func (p *pinStore) pin(sn volume.Snapshot, note string, now time.Time) (explicitPin, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.loadErr != nil {
		return explicitPin{}, p.mu.loadErr
	}
	e := explicitPin{VGID: sn.VGID, SnapshotID: sn.ID, Seq: sn.Seq, Note: note, Pinned: now.UTC()}
	old := slices.Clone(p.mu.data.Pins)
	if i := p.indexLocked(sn); i >= 0 {
		p.mu.data.Pins[i] = e
	} else {
		p.mu.data.Pins = append(p.mu.data.Pins, e)
	}
	if err := p.saveLocked(); err != nil {
		p.mu.data.Pins = old
		return explicitPin{}, err
	}
	return e, nil
}

// unpin removes sn's pin; it reports whether there was one.
func (p *pinStore) unpin(sn volume.Snapshot) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.loadErr != nil {
		return false, p.mu.loadErr
	}
	i := p.indexLocked(sn)
	if i < 0 {
		return false, nil
	}
	old := slices.Clone(p.mu.data.Pins)
	p.mu.data.Pins = slices.Delete(p.mu.data.Pins, i, i+1)
	if err := p.saveLocked(); err != nil {
		p.mu.data.Pins = old
		return false, err
	}
	return true, nil
}

// lookup returns sn's pin, if it has one.
func (p *pinStore) lookup(sn volume.Snapshot) (explicitPin, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := p.indexLocked(sn); i >= 0 {
		return p.mu.data.Pins[i], true
	}
	return explicitPin{}, false
}

func (p *pinStore) indexLocked(sn volume.Snapshot) int {
	return slices.IndexFunc(p.mu.data.Pins, func(e explicitPin) bool {
		return e.VGID == sn.VGID && e.SnapshotID == sn.ID
	})
}

func (p *pinStore) saveLocked() error {
	b, err := json.MarshalIndent(p.mu.data, "", "  ")
	if err == nil {
		err = durable.WriteFile(p.path, append(b, '\n'), 0o600)
	}
	if err != nil {
		return fmt.Errorf("recording pinned snapshots: %w", err)
	}
	return nil
}

// reason is what snapshotPins says of an explicit pin.
func (e explicitPin) reason() string {
	if e.Note == "" {
		return "explicit pin"
	}
	return fmt.Sprintf("explicit pin %q", e.Note)
}

func (e explicitPin) toAPI() *api.SnapshotPin {
	return &api.SnapshotPin{Note: e.Note, Pinned: e.Pinned}
}
