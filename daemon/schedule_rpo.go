package daemon

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmrep/vmrep/api"
)

// A schedule's RPO (recovery point objective) is checked against its lag:
// the age of the newest snapshot that reached its destination (the
// replication server, the delta directory; the store itself for a
// snapshot-only schedule). The check runs when a run delivers a snapshot,
// when a replication to the schedule's server ends, when the schedule is
// set or the daemon starts, and on a timer at the exact instant the lag
// will pass the RPO, so that a fake clock drives it deterministically.
// A breach and its recovery are each logged once and run the schedule's
// --on-rpo-breach command once; the state is kept in the schedule's record,
// so a restart does not fire again.

// rpoRecord is what a schedule keeps of its RPO across restarts.
type rpoRecord struct {
	// Delivered is when the newest snapshot a run of the schedule
	// delivered to its destination was taken.
	Delivered time.Time `json:"delivered,omitzero"`
	// From is when the schedule was set to its destination: the lag
	// counts from it until a snapshot is delivered there.
	From time.Time `json:"from,omitzero"`
	// BreachedSince is when the lag passed the RPO; zero while it has not.
	BreachedSince time.Time `json:"breached_since,omitzero"`
}

const (
	minRPO = time.Minute
	// rpoHookTimeout bounds an --on-rpo-breach command: a mailer or a
	// pager call, not a long job.
	rpoHookTimeout = time.Minute
	// maxRPOHookOutput is how much of its output is logged.
	maxRPOHookOutput = 4 << 10
)

// checkRPO checks a request's RPO fields.
func checkRPO(req api.ScheduleRequest) *api.Error {
	if req.RPO == "" {
		if req.OnRPOBreach != "" {
			return api.Errorf(api.CodeInvalid, "on_rpo_breach needs an rpo")
		}
		return nil
	}
	d, err := time.ParseDuration(req.RPO)
	if err != nil || d < minRPO || d > maxScheduleEvery {
		return api.Errorf(api.CodeInvalid, "rpo %q: want a duration from %v to %v, e.g. 30m or 2h", req.RPO, minRPO, maxScheduleEvery)
	}
	return nil
}

// rpo is the record's RPO; 0 when it has none.
func (rec *scheduleRecord) rpo() time.Duration {
	d, err := time.ParseDuration(rec.Spec.RPO)
	if err != nil {
		return 0 // none, or checked when set
	}
	return d
}

// rpoPointLocked is when the newest snapshot at rec's destination was
// taken: the last one a run delivered, or a later one a replication to
// the schedule's server pushed; before any, when the schedule was set to
// that destination.
func (sc *scheduler) rpoPointLocked(rec *scheduleRecord) time.Time {
	p := rec.RPO.Delivered
	if to := rec.Spec.ReplicateTo; to != "" && sc.s.known != nil {
		for _, t := range sc.s.known.snapshot().Targets {
			if t.VGID == rec.VGID && t.To == to && t.Created.After(p) {
				p = t.Created
			}
		}
	}
	switch {
	case !p.IsZero():
		return p
	case !rec.RPO.From.IsZero():
		return rec.RPO.From
	}
	return rec.Created
}

// rpoStateLocked is where rec stands against its RPO at now; nil when it
// has none.
func (sc *scheduler) rpoStateLocked(rec *scheduleRecord, now time.Time) *api.RPOState {
	rpo := rec.rpo()
	if rpo == 0 {
		return nil
	}
	st := &api.RPOState{RPOSeconds: rpo.Seconds(), LagSeconds: lagSeconds(now, sc.rpoPointLocked(rec))}
	if since := rec.RPO.BreachedSince; !since.IsZero() {
		st.Breached, st.BreachedSince = true, &since
	}
	return st
}

// viewLocked is the schedule of e as the API shows it.
func (sc *scheduler) viewLocked(e *scheduleEntry) api.Schedule {
	v := e.rec.view()
	v.RPOState = sc.rpoStateLocked(e.rec, sc.clock.Now())
	return v
}

// checkRPOLocked compares e's lag with its RPO, flips its state when it
// crossed (logging once and running the hook once), and arms the timer
// for the instant the lag will pass the RPO.
func (sc *scheduler) checkRPOLocked(e *scheduleEntry) {
	if e.rpoTimer != nil {
		e.rpoTimer.Stop()
		e.rpoTimer = nil
	}
	rec := e.rec
	if sc.ctx.Err() != nil || sc.mu.entries[rec.VGID] != e {
		return
	}
	if _, cut := sc.s.cutovers.get(rec.VGID); cut {
		return // the schedule stays stopped: nothing more will reach its destination
	}
	rpo := rec.rpo()
	if rpo == 0 {
		if !rec.RPO.BreachedSince.IsZero() {
			rec.RPO.BreachedSince = time.Time{}
			sc.log.Info("schedule: RPO removed, the breach with it", "vg", rec.VG)
			sc.saveLocked()
		}
		return
	}
	now := sc.clock.Now()
	point := sc.rpoPointLocked(rec)
	lag, crossing := now.Sub(point), point.Add(rpo)
	switch breached := !rec.RPO.BreachedSince.IsZero(); {
	case lag > rpo && !breached:
		rec.RPO.BreachedSince = crossing.UTC()
		sc.log.Warn("schedule: RPO breached", "vg", rec.VG, "rpo", rpo, "lag", lag.Round(time.Second), "since", crossing.UTC())
		sc.saveLocked()
		sc.rpoHookLocked(rec, "breach", rpo, lag)
	case lag <= rpo && breached:
		rec.RPO.BreachedSince = time.Time{}
		sc.log.Info("schedule: RPO recovered", "vg", rec.VG, "rpo", rpo, "lag", max(lag, 0).Round(time.Second))
		sc.saveLocked()
		sc.rpoHookLocked(rec, "clear", rpo, lag)
	}
	if lag <= rpo {
		// The lag exceeds the RPO from the first instant after crossing.
		e.rpoTimer = sc.clock.AfterFunc(crossing.Sub(now)+time.Nanosecond, func() {
			sc.mu.Lock()
			defer sc.mu.Unlock()
			sc.checkRPOLocked(e)
		})
	}
}

// checkRPOVG checks the RPO of vgID's schedule, if it has one: a snapshot
// of the VG reached a replication server.
func (sc *scheduler) checkRPOVG(vgID string) {
	if sc == nil {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if e := sc.mu.entries[vgID]; e != nil {
		sc.checkRPOLocked(e)
	}
}

// delivered records that a run delivered a snapshot taken at created.
func (rec *scheduleRecord) delivered(created time.Time) {
	if created.After(rec.RPO.Delivered) {
		rec.RPO.Delivered = created.UTC()
	}
}

// rpoHookLocked runs rec's --on-rpo-breach command for event, after the
// hooks started before it (a clear never overtakes its breach), in a
// goroutine the scheduler waits for at shutdown.
func (sc *scheduler) rpoHookLocked(rec *scheduleRecord, event string, rpo, lag time.Duration) {
	command := rec.Spec.OnRPOBreach
	if command == "" {
		return
	}
	env := []string{"VMREP_VG=" + rec.VG, "VMREP_VG_ID=" + rec.VGID, "VMREP_EVENT=" + event,
		"VMREP_RPO_SECONDS=" + strconv.FormatInt(int64(rpo.Seconds()), 10),
		"VMREP_LAG_SECONDS=" + strconv.FormatInt(int64(max(lag, 0).Seconds()), 10)}
	prev, done := sc.mu.rpoHooks, make(chan struct{})
	sc.mu.rpoHooks = done
	vg := rec.VG
	sc.wg.Add(1)
	go func() {
		defer sc.wg.Done()
		defer close(done)
		if prev != nil {
			<-prev
		}
		out, err := runRPOHook(sc.ctx, command, env)
		if err != nil {
			sc.log.Warn("schedule: RPO hook failed", "vg", vg, "event", event, "command", command, "err", err, "output", out)
			return
		}
		sc.log.Info("schedule: RPO hook ran", "vg", vg, "event", event, "command", command, "output", out)
	}()
}

// waitRPOHooks waits for the RPO hooks started so far to end.
func (sc *scheduler) waitRPOHooks() {
	sc.mu.Lock()
	ch := sc.mu.rpoHooks
	sc.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// runRPOHook runs command with sh -c and env added to the daemon's, for
// at most rpoHookTimeout; on timeout or shutdown its process group is
// killed. It returns the head of its combined output.
func runRPOHook(ctx context.Context, command string, env []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, rpoHookTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	out := &headWriter{limit: maxRPOHookOutput}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	return strings.TrimSpace(out.b.String()), err
}

// headWriter keeps the first limit bytes written to it.
type headWriter struct {
	b     strings.Builder
	limit int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.limit - w.b.Len(); room > 0 {
		w.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
