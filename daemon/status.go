package daemon

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/diff"
	"github.com/vmrep/vmrep/engine/volume"
)

// listStatus answers GET /v1/status: every VG.
func (s *Server) listStatus(w http.ResponseWriter, r *http.Request) error {
	vgs, err := s.cat.ListVGs(r.Context())
	if err != nil {
		return err
	}
	out, err := s.status(r.Context(), vgs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getStatus answers GET /v1/status/{name}: one VG.
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	vg, err := s.lookupVG(r)
	if err != nil {
		return err
	}
	out, err := s.status(r.Context(), []volume.VG{vg})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// status builds the report of vgs. It reads the catalog, the registry of
// targets (pins.go), the jobs and manifests, never chunk data: a target's
// backlog is a diff of manifests, which skips equal pages, and is cached
// per pair of snapshots, which never change.
func (s *Server) status(ctx context.Context, vgs []volume.VG) (api.StatusReport, error) {
	now := s.clock.Now().UTC()
	out := api.StatusReport{Time: now, VGs: make([]api.VGStatus, 0, len(vgs))}
	targets := s.known.snapshot().Targets
	jobs := s.jobs.list()
	for _, vg := range vgs {
		st := api.VGStatus{Name: vg.Name, ID: vg.ID, Targets: []api.TargetStatus{}}
		snaps, err := s.cat.ListSnapshots(ctx, vg.ID)
		if err != nil {
			return out, err
		}
		var newest *volume.Snapshot
		for i := range snaps {
			if newest == nil || snaps[i].Seq > newest.Seq {
				newest = &snaps[i]
			}
		}
		if newest != nil {
			ls := statusSnapshot(*newest)
			st.LastSnapshot = &ls
		}
		for _, t := range targets {
			if t.VGID != vg.ID {
				continue
			}
			st.Targets = append(st.Targets, s.targetStatus(ctx, vg, t, snaps, newest, now))
		}
		st.Transfer = s.transferStatus(vg.Name)
		st.LastError = lastError(jobs, vg.Name)
		if s.scheduleInfo != nil {
			if sc, ok := s.scheduleInfo(vg.ID); ok {
				st.Schedule = &sc
			}
		}
		if rec, cut := s.cutovers.get(vg.ID); cut && s.cutovers.err() == nil {
			st.CutOver = rec.toAPI()
		}
		out.VGs = append(out.VGs, st)
	}
	out.BucketWaits = s.jobs.bucketWaits()
	return out, nil
}

func statusSnapshot(sn volume.Snapshot) api.StatusSnapshot {
	return api.StatusSnapshot{Name: sn.Name(), Seq: sn.Seq, ID: sn.ID, Created: sn.Created.UTC()}
}

// targetStatus is how far target t of vg is behind newest, the newest of
// the local snapshots snaps (nil: there are none).
func (s *Server) targetStatus(ctx context.Context, vg volume.VG, t knownTarget, snaps []volume.Snapshot, newest *volume.Snapshot, now time.Time) api.TargetStatus {
	ts := api.TargetStatus{To: t.To, Volumes: []api.VolumeBacklog{},
		Snapshot: api.StatusSnapshot{Name: vg.Name + "@" + strconv.FormatUint(t.Seq, 10), Seq: t.Seq, ID: t.SnapshotID, Created: t.Created.UTC()}}
	if !t.Pushed.IsZero() {
		p := t.Pushed.UTC()
		ts.Pushed = &p
	}
	var base *volume.Snapshot
	for i := range snaps {
		if snaps[i].ID == t.SnapshotID {
			base = &snaps[i]
		}
	}
	if ts.Snapshot.Created.IsZero() && base != nil {
		// An entry an older daemon wrote: the local snapshot says.
		ts.Snapshot.Created = base.Created.UTC()
	}
	if !ts.Snapshot.Created.IsZero() {
		ts.LagSeconds = lagSeconds(now, ts.Snapshot.Created)
	}
	if newest == nil || newest.Seq <= t.Seq {
		for _, v := range volumesOf(newest) {
			ts.Volumes = append(ts.Volumes, api.VolumeBacklog{Name: v.Name, VolumeID: v.VolumeID})
		}
		return ts
	}
	vols, err := s.backlog(ctx, base, *newest)
	if err != nil {
		ts.BacklogError = err.Error()
		return ts
	}
	ts.Volumes = vols
	for _, v := range vols {
		ts.BacklogBytes += v.BacklogBytes
	}
	return ts
}

// lagSeconds is now minus created in seconds, never negative (a clock
// set back does not make a target ahead of time).
func lagSeconds(now, created time.Time) float64 {
	return max(0, now.Sub(created).Seconds())
}

func volumesOf(sn *volume.Snapshot) []volume.VolumeSnapshot {
	if sn == nil {
		return nil
	}
	return sn.Volumes
}

// backlogCache remembers backlogs by "baseID newestID".
var backlogCache struct {
	sync.Mutex
	m map[string][]api.VolumeBacklog
}

const backlogCacheMax = 256

// backlog is, per volume of newest, the logical bytes of the data extents
// that differ from base: what a target at base lacks. Extents that became
// zero count for nothing (a hole costs no data to send). With no base (the
// target's snapshot is gone here) it is each volume's data bytes.
func (s *Server) backlog(ctx context.Context, base *volume.Snapshot, newest volume.Snapshot) ([]api.VolumeBacklog, error) {
	if base == nil {
		out := make([]api.VolumeBacklog, len(newest.Volumes))
		for i, v := range newest.Volumes {
			out[i] = api.VolumeBacklog{Name: v.Name, VolumeID: v.VolumeID, BacklogBytes: v.DataBytes}
		}
		return out, nil
	}
	key := base.ID + " " + newest.ID
	backlogCache.Lock()
	if v, ok := backlogCache.m[key]; ok {
		backlogCache.Unlock()
		return v, nil
	}
	backlogCache.Unlock()
	diffs, err := diff.Snapshots(ctx, s.store, *base, newest, diff.Options{Workers: 1})
	if err != nil {
		return nil, err
	}
	var out []api.VolumeBacklog
	for _, d := range diffs {
		if d.Change == diff.Removed {
			continue
		}
		var n int64
		for _, e := range d.Extents {
			if !e.Zero {
				n += e.Len
			}
		}
		out = append(out, api.VolumeBacklog{Name: d.Name, VolumeID: d.VolumeID, BacklogBytes: n})
	}
	backlogCache.Lock()
	if backlogCache.m == nil || len(backlogCache.m) >= backlogCacheMax {
		backlogCache.m = make(map[string][]api.VolumeBacklog)
	}
	backlogCache.m[key] = out
	backlogCache.Unlock()
	return out, nil
}

// jobVG is the VG a job works on, read from its target ("web",
// "web@3 to host:7443"); jobs of the store ("store") or of a directory
// name none that a VG can have.
func jobVG(target string) string {
	if i := strings.IndexAny(target, "@ "); i >= 0 {
		return target[:i]
	}
	return target
}

// transferStatus is the oldest replicate job, or scheduled run (which
// replicates after its snapshot; its phase says which step it is at), of
// the VG named vgName that is running or queued; nil when there is none.
func (s *Server) transferStatus(vgName string) *api.StatusTransfer {
	s.jobs.mu.Lock()
	var found *job
	for _, j := range s.jobs.mu.jobs {
		if (j.kind != api.JobReplicate && j.kind != api.JobSchedule) || jobVG(j.target) != vgName {
			continue
		}
		if found == nil || j.started.Before(found.started) || (j.started.Equal(found.started) && j.id < found.id) {
			j.mu.Lock()
			live := !api.Final(j.mu.state)
			j.mu.Unlock()
			if live {
				found = j
			}
		}
	}
	s.jobs.mu.Unlock()
	if found == nil {
		return nil
	}
	return found.transfer()
}

// transfer is a running job as status shows it.
func (j *job) transfer() *api.StatusTransfer {
	j.mu.Lock()
	defer j.mu.Unlock()
	t := &api.StatusTransfer{JobID: j.id, Target: j.target, State: j.mu.state, Phase: j.mu.phase, Started: j.started,
		DoneBytes: j.mu.done, TotalBytes: j.mu.total, RateBytes: j.mu.rate}
	if j.mu.rate > 0 && j.mu.total >= j.mu.done {
		eta := float64(j.mu.total-j.mu.done) / j.mu.rate
		t.ETASeconds = &eta
	}
	return t
}

// lastError is the newest failed job of the VG named vgName among jobs.
func lastError(jobs []api.Job, vgName string) *api.StatusError {
	var last *api.StatusError
	for _, j := range jobs {
		if j.State != api.StateFailed || j.Finished == nil || jobVG(j.Target) != vgName {
			continue
		}
		if last != nil && j.Finished.Before(last.Time) {
			continue
		}
		e := &api.StatusError{JobID: j.ID, Kind: j.Kind, Target: j.Target, Time: j.Finished.UTC()}
		if j.Error != nil {
			e.Code, e.Message = j.Error.Code, j.Error.Message
		}
		last = e
	}
	return last
}
