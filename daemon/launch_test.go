package daemon

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/testvm"
)

// readyReplica writes a replica directory by hand: state.json at web@1
// and one boot volume whose guest prints testvm.ReadyLine at once.
func readyReplica(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	const id = "vol-00000000000000b1"
	if err := testvm.ReadyDisk(replica.VolumePath(dir, id)); err != nil {
		t.Fatal(err)
	}
	st := replica.State{Version: 1, VGID: "vg-1", VGName: "web", SnapshotID: "sn-1", Seq: 1,
		Volumes: []replica.VolumeState{{ID: id, Name: "boot", Role: volume.RoleBoot, Size: 1 << 20, SnapshotID: "sn-1", Seq: 1}}}
	b, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, replica.StateName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestLaunchReplicaReal launches a replica for real, as a cutover does:
// the VM keeps running as an instance that holds the replica's lock
// until it is stopped; the daemon's shutdown stops the ones left.
func TestLaunchReplicaReal(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 is not installed (scripts/deps.sh installs it)")
	}
	ctx := context.Background()
	store := t.TempDir()
	if err := cas.Init(ctx, store, cas.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	s := openTestServer(t, store)
	dir := readyReplica(t)
	req := api.LaunchRequest{Dir: dir, Snapshot: "web@1", Ready: "^" + testvm.ReadyLine + "$", Accel: api.AccelTCG}

	launchReal := func() api.Instance {
		t.Helper()
		unlock, e := s.replicas.tryLock(dir, "a cutover")
		if e != nil {
			t.Fatal(e)
		}
		res, err := s.launchReplica(ctx, req, func(m string) { t.Log(m) }, unlock)
		if err != nil {
			t.Fatalf("real launch: %v (%+v)", err, res)
		}
		if res.Mode != "real" || !res.Ready || res.Instance == "" || res.Snapshot != "web@1" {
			t.Fatalf("real launch result %+v", res)
		}
		for _, in := range s.vms.list() {
			if in.ID == res.Instance {
				if !in.Running || !alive(in.PID) {
					t.Fatalf("instance %+v is not running", in)
				}
				return in
			}
		}
		t.Fatalf("instance %s is not listed: %+v", res.Instance, s.vms.list())
		return api.Instance{}
	}

	in := launchReal()
	if _, e := s.replicas.tryLock(dir, "an apply"); e == nil || e.Code != api.CodeBusy {
		t.Errorf("the replica of a running VM could be locked: %v", e)
	}
	if err := s.stopInstance(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	if alive(in.PID) || len(s.vms.list()) != 0 {
		t.Errorf("after stop: QEMU alive %v, instances %+v", alive(in.PID), s.vms.list())
	}
	unlock, e := s.replicas.tryLock(dir, "an apply")
	if e != nil {
		t.Fatalf("a stopped VM still holds its replica: %v", e)
	}
	unlock()
	if err := s.stopInstance(ctx, in.ID); err == nil {
		t.Error("stopping a stopped instance again: no error")
	}

	// Wrong snapshot: refused before anything boots, the lock released.
	unlock, _ = s.replicas.tryLock(dir, "a cutover")
	bad := req
	bad.Snapshot = "web@2"
	if _, err := s.launchReplica(ctx, bad, nil, unlock); err == nil {
		t.Error("a launch at the wrong snapshot was not refused")
	}
	if unlock, e := s.replicas.tryLock(dir, "x"); e != nil {
		t.Errorf("a refused launch kept the lock: %v", e)
	} else {
		unlock()
	}

	in = launchReal()
	stopTestServer(s)
	if alive(in.PID) {
		t.Errorf("QEMU %d outlived the daemon's shutdown", in.PID)
	}
}
