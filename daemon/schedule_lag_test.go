package daemon

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/internal/clock"
	"github.com/vmrep/vmrep/internal/cutproxy"
	"github.com/vmrep/vmrep/internal/testpki"
)

// testTLS is a server TLS config and the PEM of the CA that signed it.
func testTLS(t testing.TB) (*tls.Config, string) {
	k := testpki.New(t)
	return &tls.Config{Certificates: []tls.Certificate{k.Cert}}, string(k.CAPEM)
}

// startReplTarget is a second daemon with its replication listener, on the
// real clock: the server side of a schedule's replication.
func startReplTarget(t *testing.T, dir, token string, tc *tls.Config) string {
	t.Helper()
	addr, stop := openReplTarget(t, dir, token, tc, nil)
	t.Cleanup(stop)
	return addr
}

// openReplTarget is startReplTarget over a new store in dir, encrypted
// under kek unless it is nil; stop shuts the listener and the daemon and
// closes the store.
func openReplTarget(t testing.TB, dir, token string, tc *tls.Config, kek []byte) (addr string, stop func()) {
	t.Helper()
	ctx := context.Background()
	storeDir := filepath.Join(dir, "store")
	cfg := cas.DefaultConfig()
	if kek != nil {
		var err error
		if cfg, err = cfg.WithEncryption(kek); err != nil {
			t.Fatal(err)
		}
	}
	if err := cas.Init(ctx, storeDir, cfg); err != nil {
		t.Fatal(err)
	}
	store, err := cas.Open(ctx, storeDir, cas.Options{KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Store: store, AllowGroup: -1})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := srv.NewReplicationServer(ReplicationConfig{TLS: tc, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = rs.Serve(ln) }()
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = rs.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
		_ = store.Close()
	}
}

// changeImage overwrites n random bytes of the VG's image at a random
// 64 KiB-aligned offset, so that every run has new data to send.
func changeImage(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, n)
	_, _ = rand.Read(b)
	var r [1]byte
	_, _ = rand.Read(r[:])
	off := (int64(r[0]) << 16) % max(fi.Size()-int64(n)+1, 1)
	if _, err := f.WriteAt(b, off&^(64<<10-1)); err != nil {
		t.Fatal(err)
	}
}

// targetLag is the status of web's one replication target.
func (d *schedDaemon) targetLag(t *testing.T) api.TargetStatus {
	t.Helper()
	rep, err := d.cl.VGStatus(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.VGs) != 1 || len(rep.VGs[0].Targets) != 1 {
		t.Fatalf("status: want one VG with one target, got %+v", rep.VGs)
	}
	return rep.VGs[0].Targets[0]
}

// A simulated day of a 15-minute schedule that replicates to a real
// replication server and applies retention: status' lag is never above
// one interval (the fake clock stands still while a run runs, so the run
// time is 0); one run is cut in the middle of its transfer, fails, is
// retried a minute later without sending again what the server stored,
// and the lag recovers.
func TestScheduleReplicatedDayLag(t *testing.T) {
	dir := t.TempDir()
	tc, caPEM := testTLS(t)
	const token = "0123456789abcdef0123456789abcdef"
	target := startReplTarget(t, filepath.Join(dir, "target"), token, tc)
	proxy := cutproxy.New(t, target)
	d := startSchedDaemon(t, filepath.Join(dir, "src"), clock.NewFake(day0))
	ctx := context.Background()
	d.createVG("web", "")
	img := filepath.Join(d.dir, "web.img")
	if _, err := d.cl.SetSchedule(ctx, "web", api.ScheduleRequest{Every: "15m", ReplicateTo: proxy.Addr(),
		Token: token, CAPEM: caPEM, Keep: "last=4", Limit: "10Gbit"}); err != nil {
		t.Fatal(err)
	}
	const interval = 15 * time.Minute
	const cutAt = 40
	// runResult waits for the run's job to end: the schedule records the
	// run as the job's work returns, a moment before the job is final.
	runResult := func(id string) api.ScheduleRunResult {
		j, err := d.cl.Wait(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		var r api.ScheduleRunResult
		if err := json.Unmarshal(j.Result, &r); err != nil {
			t.Fatalf("job %s result %s: %v", id, j.Result, err)
		}
		return r
	}
	ok := int64(0)
	for i := 1; i <= 96; i++ {
		slot := day0.Add(time.Duration(i) * interval)
		if i > 1 {
			// The lag is largest just before a run: the target holds the
			// snapshot of the last run.
			if lag := d.targetLag(t).LagSeconds; lag > interval.Seconds() {
				t.Fatalf("before run %d: lag %.0f s, above one interval", i, lag)
			}
		}
		if i != cutAt {
			changeImage(t, img, 64<<10)
			d.fireNext(slot)
			ok++
			d.waitFor("web", fmt.Sprintf("done with run %d", i), func(s api.Schedule) bool { return s.Status.RunsOK == ok && idle(s) })
			if lag := d.targetLag(t); lag.LagSeconds != 0 || lag.BacklogBytes != 0 {
				t.Fatalf("after run %d: lag %.0f s, backlog %d bytes; want 0 and 0", i, lag.LagSeconds, lag.BacklogBytes)
			}
			continue
		}
		// The whole image changes, and the connection drops after a third
		// of it went upstream.
		changeImage(t, img, 1<<20)
		proxy.Arm(350<<10, nil)
		d.fireNext(slot)
		sc := d.waitFor("web", "failed", func(s api.Schedule) bool { return s.Status.RunsFailed == 1 && idle(s) })
		if !proxy.Disarm(target) {
			t.Fatalf("run %d failed without the cut: %s", i, sc.Status.LastError)
		}
		if lag := d.targetLag(t); lag.LagSeconds != interval.Seconds() || lag.BacklogBytes < 1<<20 {
			t.Fatalf("after the cut: lag %.0f s, backlog %d; want one interval and the whole image", lag.LagSeconds, lag.BacklogBytes)
		}
		// The retry, a minute later, sends what the server does not have.
		d.fireNext(slot.Add(time.Minute))
		ok++
		sc = d.waitFor("web", "retried", func(s api.Schedule) bool { return s.Status.RunsOK == ok && idle(s) })
		r := runResult(sc.Status.LastJob)
		if r.Replicate == nil || r.Replicate.SentBytes >= 1<<20 {
			t.Fatalf("the retry sent %+v; want less than the image, part of it reached the server before the cut", r.Replicate)
		}
		if r.Replicate.Limit != "10Gbit/s" {
			t.Errorf("the run's replication ran under limit %q, want the schedule's 10Gbit/s", r.Replicate.Limit)
		}
		if lag := d.targetLag(t); lag.LagSeconds != 0 || lag.BacklogBytes != 0 {
			t.Fatalf("after the retry: lag %.0f s, backlog %d; want it recovered", lag.LagSeconds, lag.BacklogBytes)
		}
	}
	sc, err := d.cl.GetSchedule(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	// 95 regular runs and the retry: 96 snapshots, the newest on the target.
	if st := sc.Status; st.RunsOK != 96 || st.RunsFailed != 1 || st.LastSnapshot != "web@97" {
		t.Fatalf("after the day: %+v", st)
	}
	if got := d.targetLag(t).Snapshot.Name; got != "web@97" {
		t.Fatalf("target holds %s, want web@97", got)
	}
	rep, err := d.cl.VGStatus(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	next := day0.Add(97 * interval)
	if s := rep.VGs[0].Schedule; s == nil || s.Every != "15m0s" || s.Paused || s.NextRun == nil || !s.NextRun.Equal(next) ||
		s.LastResult != api.RunOK || s.LastError != "" || s.LastRun == nil {
		t.Errorf("status schedule %+v, want every 15m, next run %v, last run ok", s, next)
	}
	snaps, err := d.cl.ListSnapshots(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 4 || snaps[len(snaps)-1].Seq != 97 {
		t.Fatalf("retention last=4 left %d snapshots, newest @%d", len(snaps), snaps[len(snaps)-1].Seq)
	}
}
