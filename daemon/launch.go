package daemon

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/launch"
)

// launchTest starts a job that boots a replica on copy-on-write overlays,
// waits for the guest to be ready, runs the checks in it and tears the VM
// down. The daemon owns the VM: a client that goes away does not leave
// it running, and canceling the job kills it.
func (s *Server) launchTest(w http.ResponseWriter, r *http.Request) error {
	var req api.LaunchRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	if !req.Test {
		return api.Errorf(api.CodeInvalid, "launch: only a test launch (test: true) is served here; a replica is launched for real by a cutover")
	}
	if e := s.checkDir("replica", req.Dir, true); e != nil {
		return e
	}
	if _, err := s.launchPlan(r.Context(), req); err != nil {
		return err
	}
	unlock, e := s.replicas.tryLock(req.Dir, "a test launch")
	if e != nil {
		return e
	}
	err := s.startJob(w, r, api.JobLaunch, req.Snapshot+" in "+req.Dir, func(ctx context.Context, j *job) (any, error) {
		return s.launchReplica(ctx, req, func(msg string) { j.progress("boot", 0, 0, msg) }, unlock)
	}, nil)
	if err != nil {
		unlock() // startJob did not run the job, which would have released it
	}
	return err
}

// launchPlan is what a launch boots: the replica's volumes, boot volume
// first, and the options, checked. The replica must be at req.Snapshot.
type launchPlan struct {
	snapshot string
	volumes  []launch.Volume
	opts     launch.Options
}

func (s *Server) launchPlan(ctx context.Context, req api.LaunchRequest) (launchPlan, error) {
	var p launchPlan
	ref, err := volume.ParseRef(req.Snapshot)
	if err != nil {
		return p, api.Errorf(api.CodeInvalid, "launch: %v", err)
	}
	st, err := replica.ReadState(ctx, req.Dir)
	if err != nil {
		return p, err
	}
	if st.VGID == "" {
		return p, api.Errorf(api.CodeNotFound, "launch: %s holds no replica (no %s)", req.Dir, replica.StateName)
	}
	at := fmt.Sprintf("%s@%d", st.VGName, st.Seq)
	if st.SnapshotID == "" {
		return p, api.Errorf(api.CodeConflict, "launch: replica %s is not at one snapshot (its volumes are at different ones): apply or create it first", req.Dir)
	}
	if ref.Latest {
		_, sn, err := s.cat.Resolve(ctx, req.Snapshot)
		if err != nil {
			return p, err
		}
		ref.Seq = sn.Seq
	}
	if ref.VG != st.VGName || ref.Seq != st.Seq {
		return p, api.Errorf(api.CodeConflict, "launch: replica %s is at %s, not %s", req.Dir, at, req.Snapshot)
	}
	if jr, err := replica.ReadJournal(req.Dir); err != nil {
		return p, err
	} else if jr != nil {
		return p, api.Errorf(api.CodeConflict, "launch: replica %s has an unfinished apply (to %s): finish it with delta apply first", req.Dir, jr.Target)
	}
	for _, v := range st.Volumes {
		lv := launch.Volume{ID: v.ID, Path: replica.VolumePath(req.Dir, v.ID)}
		if _, err := os.Stat(lv.Path); err != nil {
			return p, api.Errorf(api.CodeNotFound, "launch: replica %s: volume %q: %v", req.Dir, v.Name, err)
		}
		if v.Role == volume.RoleBoot {
			p.volumes = append([]launch.Volume{lv}, p.volumes...)
		} else {
			p.volumes = append(p.volumes, lv)
		}
	}
	if len(p.volumes) == 0 || p.volumes[0].ID != bootID(st) {
		return p, api.Errorf(api.CodeInvalid, "launch: replica %s has no boot volume", req.Dir)
	}
	var ready *regexp.Regexp
	if req.Ready != "" {
		if ready, err = regexp.Compile(req.Ready); err != nil {
			return p, api.Errorf(api.CodeInvalid, "launch: ready pattern: %v", err)
		}
	}
	switch req.Accel {
	case "", api.AccelAuto, api.AccelKVM, api.AccelTCG:
	default:
		return p, api.Errorf(api.CodeInvalid, "launch: accelerator %q: want auto, kvm or tcg", req.Accel)
	}
	if req.MemoryMiB < 0 || req.MemoryMiB > 1<<20 {
		return p, api.Errorf(api.CodeInvalid, "launch: memory %d MiB: want 1 to %d", req.MemoryMiB, 1<<20)
	}
	if req.Timeout < 0 {
		return p, api.Errorf(api.CodeInvalid, "launch: negative timeout %s", req.Timeout)
	}
	p.snapshot = at
	p.opts = launch.Options{Volumes: p.volumes, Overlay: req.Test, Name: "vmrep " + at + " " + req.Dir,
		Accel: req.Accel, Timeout: req.Timeout, Ready: ready, Checks: req.Checks, MemoryMiB: req.MemoryMiB}
	return p, nil
}

func bootID(st *replica.State) string {
	for _, v := range st.Volumes {
		if v.Role == volume.RoleBoot {
			return v.ID
		}
	}
	return ""
}

// launchReplica boots the replica req.Dir, which must be at req.Snapshot,
// and waits until the guest is ready and req.Checks have passed in it.
// A test launch (req.Test) boots on overlays and always tears the VM
// down; a real one boots the replica's files themselves, writable, and
// leaves the VM running, registered as an instance (GET /v1/instances)
// until stopInstance or the daemon's shutdown. The result is filled in
// also on failure; a guest that did not become ready is CodeBootFailed.
//
// It takes over unlock (may be nil), the release of the replica lock the
// caller holds: it is called when a test launch ends or a real launch
// fails, or, for a running VM, when the VM stops, so no apply can write
// under a running guest.
func (s *Server) launchReplica(ctx context.Context, req api.LaunchRequest, progress func(string), unlock func()) (api.LaunchResult, error) {
	release := func() {
		if unlock != nil {
			unlock()
		}
	}
	res := api.LaunchResult{Dir: req.Dir, Snapshot: req.Snapshot, Mode: "test"}
	if !req.Test {
		res.Mode = "real"
	}
	p, err := s.launchPlan(ctx, req)
	if err != nil {
		release()
		return res, err
	}
	res.Snapshot = p.snapshot
	for _, v := range p.volumes {
		res.Volumes = append(res.Volumes, v.ID)
	}
	p.opts.Progress = progress
	launch.RemoveStale(os.TempDir())
	started := time.Now()
	in, lr, err := launch.Boot(ctx, p.opts)
	fillLaunchResult(&res, lr)
	if err != nil {
		release()
		if launch.IsFailure(err) {
			return res, api.Errorf(api.CodeBootFailed, "launch %s in %s: %s", p.snapshot, req.Dir, lr.Reason)
		}
		return res, err
	}
	if req.Test {
		defer release()
		if err := in.Stop(context.WithoutCancel(ctx)); err != nil {
			return res, fmt.Errorf("launch %s: tearing the VM down: %w", p.snapshot, err)
		}
		return res, nil
	}
	res.Instance = s.vms.add(api.Instance{Dir: req.Dir, Snapshot: p.snapshot, PID: in.PID(), Accel: lr.Accel,
		Firmware: lr.Firmware, Started: started}, in, release, s.log)
	return res, nil
}

func fillLaunchResult(res *api.LaunchResult, lr launch.Result) {
	res.Accel, res.AccelNote, res.Firmware = lr.Accel, lr.AccelNote, lr.Firmware
	res.Ready, res.BootSeconds, res.ReadyLine = lr.Ready, lr.BootSeconds, lr.ReadyLine
	res.Console, res.FirmwareLog, res.Reason = lr.Console, lr.FirmwareLog, lr.Reason
	for _, c := range lr.Checks {
		res.Checks = append(res.Checks, api.LaunchCheck{Command: c.Command, ExitCode: c.ExitCode, Stdout: c.Stdout, Stderr: c.Stderr})
	}
	if res.Console == nil {
		res.Console = []string{}
	}
}
