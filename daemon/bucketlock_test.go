package daemon

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/cas/s3backend"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/testminio"
)

func openSharedServer(t *testing.T, srv testminio.Server, init bool) *Server {
	return openSharedServerWith(t, srv, init, BucketOptions{Lease: 2 * time.Second, GCGrace: 5 * time.Second, RefreshEvery: time.Hour})
}

func openSharedServerWith(t *testing.T, srv testminio.Server, init bool, opts BucketOptions) *Server {
	t.Helper()
	ctx := context.Background()
	be, err := s3backend.New(ctx, s3backend.Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Prefix: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "store")
	if init {
		if err := cas.InitBackend(ctx, dir, cas.DefaultConfig(), be); err != nil {
			t.Fatal(err)
		}
	}
	st, err := cas.Open(ctx, dir, cas.Options{Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Store: st, Bucket: opts})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	stopped[s] = new(sync.Once)
	t.Cleanup(func() { stopTestServer(s) })
	return s
}

// TestGCWaitsForAnotherDaemonsWriter: daemon A runs a job (it holds the
// bucket's writer lock); gc on daemon B waits, shown as queued with one
// message naming A's lock and its expiry, and runs once A's job ends,
// seeing what A wrote.
func TestGCWaitsForAnotherDaemonsWriter(t *testing.T) {
	srv := testminio.Start(t, "vmrep-daemons")
	a := openSharedServer(t, srv, true)
	b := openSharedServer(t, srv, false)
	if a.jobs.bucket == nil || b.jobs.bucket == nil {
		t.Fatal("servers over an s3 store have no bucket lock")
	}
	ctx := context.Background()
	step := make(chan struct{})
	wrote := make(chan struct{})
	ja, err := a.jobs.start(api.JobSnapshot, "web", func(ctx context.Context, j *job) (any, error) {
		_, err := a.cat.CreateVG(ctx, volume.VG{Name: "web", Volumes: []volume.Volume{{Name: "boot", Role: volume.RoleBoot}}})
		close(wrote)
		<-step
		return nil, err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-wrote

	rec := httptest.NewRecorder()
	if err := b.gc(rec, httptest.NewRequest("POST", "/v1/gc", nil)); err != nil {
		t.Fatal(err)
	}
	var view api.Job
	if err := json.Unmarshal(rec.Body.Bytes(), &view); err != nil {
		t.Fatal(err)
	}
	jb, ok := b.jobs.get(view.ID)
	if !ok {
		t.Fatal("gc job not found")
	}
	var msgs []string
	for {
		ev, changed := jb.event()
		if api.Final(ev.State) {
			t.Fatalf("gc on daemon B ended while daemon A held the writer lock: %+v", ev)
		}
		if ev.State == api.StateQueued && strings.Contains(ev.Message, "shared bucket") {
			msgs = append(msgs, ev.Message)
			break
		}
		<-changed
	}
	m := msgs[0]
	if !strings.Contains(m, "snapshot on") || !strings.Contains(m, a.store.Dir()) || !strings.Contains(m, "until ") || strings.Contains(m, "\n") {
		t.Fatalf("gc says %q; want one line naming daemon A's lock (its job, store) and its expiry", m)
	}
	t.Logf("gc job: %s", m)
	if w := b.jobs.bucketWaits(); len(w) != 1 || !strings.HasPrefix(w[0], "gc store: the bucket is locked") {
		t.Fatalf("status lists waits %q, want the gc", w)
	}
	close(step)
	evs := follow(jb)
	last := evs[len(evs)-1]
	if last.State != api.StateDone {
		t.Fatalf("gc after A's job ended: %+v", last)
	}
	if evs := follow(ja); evs[len(evs)-1].State != api.StateDone {
		t.Fatalf("A's job: %+v", evs[len(evs)-1])
	}
	if _, err := b.cat.GetVG(ctx, "web"); err != nil {
		t.Fatalf("gc on B did not refresh its view of the bucket: %v", err)
	}
	if locks, err := b.store.Locker().Locks(ctx); err != nil || len(locks) != 0 {
		t.Fatalf("locks left in the bucket after both jobs: %v %v", locks, err)
	}
}

// TestIdleRefresh: a daemon that runs no job learns what another daemon
// wrote to the bucket by its periodic index refresh.
func TestIdleRefresh(t *testing.T) {
	srv := testminio.Start(t, "vmrep-refresh")
	opts := BucketOptions{Lease: 2 * time.Second, RefreshEvery: time.Second}
	a := openSharedServerWith(t, srv, true, opts)
	b := openSharedServerWith(t, srv, false, opts)
	ctx := context.Background()
	if _, err := a.cat.CreateVG(ctx, volume.VG{Name: "web", Volumes: []volume.Volume{{Name: "boot", Role: volume.RoleBoot}}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := b.cat.GetVG(ctx, "web"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon B never learnt daemon A's VG: no idle refresh")
		}
	}
}
