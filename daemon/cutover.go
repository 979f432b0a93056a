package daemon

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/volume"
)

// cutover starts a cutover job: the pre-snapshot hook and a final
// snapshot, the delta from the replica's snapshot to it applied to the
// replica, the replica verified against it, the replica launched for real,
// and the group marked cut over. The VG's writer lock and the replica's
// lock are held to the end, so no snapshot, schedule run or delta apply
// comes in between.
func (s *Server) cutover(w http.ResponseWriter, r *http.Request) error {
	var req api.CutoverRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	vg, err := s.lookupVG(r)
	if err != nil {
		return err
	}
	if rec, done := s.cutovers.get(vg.ID); done {
		if e := s.cutovers.err(); e != nil {
			return api.Errorf(api.CodeConflict, "%v", e)
		}
		return api.Errorf(api.CodeConflict, "%s was cut over at %s to %s (%s); a volume group is cut over once",
			vg.Name, rec.At.UTC().Format("2006-01-02 15:04:05Z"), rec.Replica, rec.Snapshot)
	}
	if req.Replica == "" {
		return api.Errorf(api.CodeInvalid, "a cutover needs the replica directory (replica)")
	}
	if e := s.checkDir("replica", req.Replica, true); e != nil {
		return e
	}
	st, err := replica.ReadState(r.Context(), req.Replica)
	if err != nil {
		return err
	}
	if st.VGID != vg.ID || st.SnapshotID == "" {
		return api.Errorf(api.CodeInvalid, "%s holds no replica of %s; create one first (vmrep replica create %s@latest --dir %s)",
			req.Replica, vg.Name, vg.Name, req.Replica)
	}
	from, err := s.cat.GetSnapshot(r.Context(), vg.ID, st.Seq)
	if err != nil || from.ID != st.SnapshotID {
		return api.Errorf(api.CodeConflict, "the replica in %s is at %s@%d, which is no longer in the store: the final delta needs it; recreate the replica (vmrep replica create %s@latest --dir %s --force)",
			req.Replica, vg.Name, st.Seq, vg.Name, req.Replica)
	}
	// The launch options are checked now, on the replica as it is, so a
	// bad pattern fails before the snapshot rather than after.
	lreq := api.LaunchRequest{Dir: req.Replica, Snapshot: from.Name(), Timeout: req.Timeout, Ready: req.Ready,
		Accel: req.Accel, MemoryMiB: req.MemoryMiB}
	if _, err := s.launchPlan(r.Context(), lreq); err != nil {
		return err
	}
	if e := s.checkVGSources(vg); e != nil {
		return e
	}
	unlockReplica, e := s.replicas.tryLock(req.Replica, "a cutover")
	if e != nil {
		return e
	}
	unlockVG, e := s.writers.tryLock(vg.ID, vg.Name, "a cutover")
	if e != nil {
		unlockReplica()
		return e
	}
	// The replica's lock passes to the VM a cutover launches, which holds
	// it while it runs; every other end of the job releases it here.
	var handed atomic.Bool
	err = s.startJob(w, r, api.JobCutover, vg.Name+" to "+req.Replica, func(ctx context.Context, j *job) (any, error) {
		return s.runCutover(ctx, j, vg, from, req, lreq, func() func() { handed.Store(true); return unlockReplica })
	}, func() {
		unlockVG()
		if !handed.Load() {
			unlockReplica()
		}
	})
	return err
}

// runCutover is the cutover job; handOver gives the replica's lock to the
// launch, which releases it when the VM stops or fails to boot.
func (s *Server) runCutover(ctx context.Context, j *job, vg volume.VG, from volume.Snapshot, req api.CutoverRequest,
	lreq api.LaunchRequest, handOver func() func()) (any, error) {
	res := api.CutoverResult{VG: vg.Name, Replica: req.Replica, DryRun: req.DryRun, From: from.Name()}
	step := func(name, detail string, done bool) {
		res.Steps = append(res.Steps, api.CutoverStep{Name: name, Detail: detail, Done: done})
		j.progress("cutover", int64(len(res.Steps)), 5, name+": "+detail)
	}
	if req.DryRun {
		hook := "no pre-snapshot hook is set"
		if pre := preHook(vg); pre != "" {
			hook = "run the pre-snapshot hook " + quoteCmd(pre)
		}
		next := fmt.Sprintf("%s@%d", vg.Name, vg.NextSeq) // the seq the final snapshot reserves
		res.Snapshot = next
		step("snapshot", hook+", then take the final snapshot (next: "+next+")", false)
		step("apply", "apply the delta "+from.Name()+" → final snapshot to "+req.Replica+", journaled", false)
		step("verify", "check that every volume of "+req.Replica+" equals the final snapshot", false)
		step("launch", "launch "+req.Replica+" for real (not on an overlay) and wait for readiness; the VM keeps running, owned by vmrepd", false)
		step("mark", "mark "+vg.Name+" cut over: its schedule stops and "+req.Replica+" is no longer written by vmrep", false)
		return res, nil
	}

	sn, err := s.takeSnapshot(ctx, j, vg, false)
	if err != nil {
		return nil, fmt.Errorf("cutover %s: final snapshot: %w", vg.Name, err)
	}
	res.Snapshot = sn.Name()
	step("snapshot", "took "+sn.Name()+hookNote(vg), true)

	// planMove, as replica create --at uses it: it checks the replica
	// again under its lock and keeps both the delta's base and sn in the
	// store until the move is recorded.
	p, err := s.planMove(ctx, req.Replica, sn, false)
	if err != nil {
		return nil, fmt.Errorf("cutover %s: %w", vg.Name, err)
	}
	defer p.done()
	if p.how != api.MovedByDelta || p.base.ID != from.ID {
		return nil, fmt.Errorf("cutover %s: the replica in %s is no longer at %s", vg.Name, req.Replica, from.Name())
	}
	sum, st, err := s.moveReplica(ctx, p.base, sn, req.Replica, replica.ApplyOptions{}, func(phase, msg string) {
		j.progress(phase, 0, 0, msg)
	})
	if err != nil {
		return nil, fmt.Errorf("cutover %s: final delta %s → %s: %w", vg.Name, from.Name(), sn.Name(), err)
	}
	s.known.replicaWritten(req.Replica, st)
	step("apply", fmt.Sprintf("delta %s → %s applied: wrote %d bytes", from.Name(), sn.Name(), sum.ChangedBytes), true)

	if _, err := s.runVerifyReplica(ctx, j, req.Replica); err != nil {
		return nil, fmt.Errorf("cutover %s: %w", vg.Name, err)
	}
	step("verify", req.Replica+" equals "+sn.Name(), true)

	lreq.Snapshot = sn.Name()
	lr, err := s.launchReplica(ctx, lreq, func(msg string) { j.progress("boot", 0, 0, msg) }, handOver())
	res.Launch = &lr
	if err != nil {
		return res, fmt.Errorf("cutover %s: %w", vg.Name, err)
	}
	step("launch", fmt.Sprintf("ready after %.1fs (%s, %s); running as instance %s (vmrep launch list)", lr.BootSeconds, lr.Accel, lr.Firmware, lr.Instance), true)

	rec := cutoverRecord{VGID: vg.ID, VGName: vg.Name, Snapshot: sn.Name(), SnapshotID: sn.ID, Replica: req.Replica, At: s.clock.Now().UTC()}
	if err := s.cutovers.mark(rec); err != nil {
		return res, fmt.Errorf("cutover %s: %w", vg.Name, err)
	}
	s.sched.wakeVG(vg.ID)
	step("mark", vg.Name+" is cut over: its schedule no longer runs", true)
	s.log.Info("cut over", "vg", vg.Name, "snapshot", sn.Name(), "replica", req.Replica)
	return res, nil
}

func hookNote(vg volume.VG) string {
	if pre := preHook(vg); pre != "" {
		return " after the pre-snapshot hook " + quoteCmd(pre)
	}
	return " (no pre-snapshot hook set)"
}

// preHook is vg's pre-snapshot command; "" when it has none (Hooks is nil
// for a VG created without hooks).
func preHook(vg volume.VG) string {
	if vg.Hooks == nil {
		return ""
	}
	return vg.Hooks.Pre
}

func quoteCmd(c string) string { return fmt.Sprintf("%q", c) }
