package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/durable"
)

// replicasFile remembers the replicas this daemon wrote and the
// replication targets it pushed to, so that deleting the snapshot one of
// them builds on asks for --force. It is a hint for that check only: a
// lost or damaged file pins nothing, and nothing else reads it.
const replicasFile = "replicas.json"

// knownReplica is a replica directory this daemon wrote, at the snapshot
// it last wrote there.
type knownReplica struct {
	VGID       string `json:"vg_id"`
	SnapshotID string `json:"snapshot_id"`
	Seq        uint64 `json:"seq"`
}

// knownTarget is the newest snapshot of one VG pushed to one replication
// server.
type knownTarget struct {
	To         string `json:"to"`
	VGID       string `json:"vg_id"`
	SnapshotID string `json:"snapshot_id"`
	Seq        uint64 `json:"seq"`
	// Created is when the snapshot was taken, Pushed when the push
	// ended; both zero in entries an older daemon wrote.
	Created time.Time `json:"created,omitzero"`
	Pushed  time.Time `json:"pushed,omitzero"`
}

type registryData struct {
	Replicas map[string]knownReplica `json:"replicas"` // by directory
	Targets  []knownTarget           `json:"targets"`
}

// replicaRegistry is replicasFile in memory; every change is written
// through (temp file, fsync, rename) before it returns.
type replicaRegistry struct {
	path string
	log  *slog.Logger
	mu   struct {
		sync.Mutex
		data registryData
		// writing counts the replicas being written at each snapshot
		// ("vgid/snapshotid"), in memory only: a materialize that has not
		// recorded its replica yet still needs its snapshot.
		writing map[string]int
	}
}

func newReplicaRegistry(storeDir string, log *slog.Logger) *replicaRegistry {
	g := &replicaRegistry{path: filepath.Join(storeDir, replicasFile), log: log}
	g.mu.data = registryData{Replicas: map[string]knownReplica{}}
	g.mu.writing = map[string]int{}
	b, err := os.ReadFile(g.path)
	if errors.Is(err, os.ErrNotExist) {
		return g
	}
	var d registryData
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	if err != nil {
		log.Warn("reading known replicas; starting with none", "file", g.path, "err", err)
		return g
	}
	if d.Replicas == nil {
		d.Replicas = map[string]knownReplica{}
	}
	g.mu.data = d
	return g
}

// replicaWritten records the snapshot the replica in dir is now at (none
// when its volumes are at different ones). A failure to record is logged,
// never fails the job that wrote the replica.
func (g *replicaRegistry) replicaWritten(dir string, st *replica.State) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st == nil || st.SnapshotID == "" {
		delete(g.mu.data.Replicas, dir)
	} else {
		g.mu.data.Replicas[dir] = knownReplica{VGID: st.VGID, SnapshotID: st.SnapshotID, Seq: st.Seq}
	}
	g.saveLocked()
}

// pushed records that sn reached the replication server to, unless a
// later snapshot of the VG already did.
func (g *replicaRegistry) pushed(to string, sn volume.Snapshot, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := knownTarget{To: to, VGID: sn.VGID, SnapshotID: sn.ID, Seq: sn.Seq, Created: sn.Created, Pushed: now.UTC()}
	i := slices.IndexFunc(g.mu.data.Targets, func(k knownTarget) bool { return k.To == to && k.VGID == sn.VGID })
	switch {
	case i < 0:
		g.mu.data.Targets = append(g.mu.data.Targets, t)
	case g.mu.data.Targets[i].Seq > sn.Seq:
		return
	default:
		g.mu.data.Targets[i] = t
	}
	g.saveLocked()
}

// writingReplica marks sn as the snapshot a replica is being written at
// until the returned func is called.
func (g *replicaRegistry) writingReplica(sn volume.Snapshot) (done func()) {
	key := sn.VGID + "/" + sn.ID
	g.mu.Lock()
	g.mu.writing[key]++
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.mu.writing[key]--; g.mu.writing[key] <= 0 {
			delete(g.mu.writing, key)
		}
	}
}

func (g *replicaRegistry) isWriting(sn volume.Snapshot) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mu.writing[sn.VGID+"/"+sn.ID] > 0
}

func (g *replicaRegistry) saveLocked() {
	b, err := json.MarshalIndent(g.mu.data, "", "  ")
	if err == nil {
		err = durable.WriteFile(g.path, append(b, '\n'), 0o600)
	}
	if err != nil {
		g.log.Warn("recording known replicas", "file", g.path, "err", err)
	}
}

func (g *replicaRegistry) snapshot() registryData {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := registryData{Replicas: make(map[string]knownReplica, len(g.mu.data.Replicas)),
		Targets: slices.Clone(g.mu.data.Targets)}
	for k, v := range g.mu.data.Replicas {
		d.Replicas[k] = v
	}
	return d
}

// snapshotPins says why sn must not be deleted without --force nor by
// forget: it is the current snapshot of a replica this daemon wrote (whose
// state file still names it: a replica that is gone or moved on pins
// nothing) or is writing now (a materialize on a replication server), the
// newest snapshot pushed to a replication server, the base a schedule's
// next delta will be exported from, or pinned with `snapshot pin`
// (pinned.go). When the pins file could not be read every
// snapshot is pinned, so that a damaged file never lets forget remove what
// the user pinned.
func (s *Server) snapshotPins(ctx context.Context, vgName string, sn volume.Snapshot) []string {
	d := s.known.snapshot()
	var why []string
	dirs := make([]string, 0, len(d.Replicas))
	for dir := range d.Replicas {
		dirs = append(dirs, dir)
	}
	slices.Sort(dirs)
	for _, dir := range dirs {
		k := d.Replicas[dir]
		if k.VGID != sn.VGID || k.SnapshotID != sn.ID {
			continue
		}
		// A pin must not drop out because a request was cancelled.
		st, err := replica.ReadState(context.WithoutCancel(ctx), dir)
		if err != nil || st.VGID != sn.VGID || st.SnapshotID != sn.ID {
			continue
		}
		why = append(why, "replica "+dir+" is at it")
	}
	if s.known.isWriting(sn) {
		why = append(why, "a replica is being written at it")
	}
	for _, t := range d.Targets {
		if t.VGID == sn.VGID && t.SnapshotID == sn.ID {
			why = append(why, fmt.Sprintf("it is the last snapshot of %q pushed to %s", vgName, t.To))
		}
	}
	if err := s.pins.err(); err != nil {
		why = append(why, "pinned snapshots are unknown: "+err.Error())
	} else if e, ok := s.pins.lookup(sn); ok {
		why = append(why, e.reason())
	}
	return append(why, s.sched.pins(sn)...)
}

func pinText(why []string) string { return strings.Join(why, "; ") }
