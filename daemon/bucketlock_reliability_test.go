package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/reliability"
	"github.com/vmrep/vmrep/internal/testdisk"
	"github.com/vmrep/vmrep/internal/testminio"
)

// overlapLog counts the moments two daemons held conflicting bucket locks,
// from what each daemon's bucket lock reports as it takes and drops them.
type overlapLog struct {
	mu       sync.Mutex
	writers  int
	gc       bool
	overlaps int
	gcs      int
}

func (l *overlapLog) observer() func(cas.LockMode, bool) {
	return func(mode cas.LockMode, held bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch {
		case mode == cas.LockExclusive && held:
			if l.writers > 0 || l.gc {
				l.overlaps++
			}
			l.gc = true
			l.gcs++
		case mode == cas.LockExclusive:
			l.gc = false
		case held:
			if l.gc {
				l.overlaps++
			}
			l.writers++
		default:
			l.writers--
		}
	}
}

// snapshotJob ingests data as a snapshot of vg in a job of s, as the
// snapshot handler does, and forgets the oldest snapshot beyond keep.
func snapshotJob(t *testing.T, s *Server, vg volume.VG, data []byte, keep int) (volume.Snapshot, []volume.Snapshot, error) {
	img := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(img, data, 0o644); err != nil {
		return volume.Snapshot{}, nil, err
	}
	cut, err := ingest.NewCutter(s.store.Config().Chunker)
	if err != nil {
		return volume.Snapshot{}, nil, err
	}
	var sn volume.Snapshot
	var forgot []volume.Snapshot
	j, err := s.jobs.start(api.JobSnapshot, vg.Name, func(ctx context.Context, j *job) (any, error) {
		w := s.store.NewWriter()
		defer w.Close()
		open := func(ctx context.Context, v volume.Volume) (source.Reader, error) { return source.Open(ctx, img) }
		var err error
		sn, _, err = ingest.Snapshot(ctx, w, s.cat, vg, open, ingest.SnapshotOptions{Options: ingest.Options{Cutter: cut}})
		if err != nil {
			return nil, err
		}
		snaps, err := s.cat.ListSnapshots(ctx, vg.ID)
		for err == nil && len(snaps) > keep {
			err = s.cat.DeleteSnapshot(ctx, vg.ID, snaps[0].Seq)
			forgot = append(forgot, snaps[0])
			snaps = snaps[1:]
		}
		return nil, err
	}, nil)
	if err != nil {
		return sn, nil, err
	}
	if evs := follow(j); evs[len(evs)-1].State != api.StateDone {
		return sn, nil, fmt.Errorf("snapshot job on %s: %+v", s.store.Dir(), evs[len(evs)-1].Error)
	}
	return sn, forgot, nil
}

func gcJob(s *Server) (api.GCResult, error) {
	var r api.GCResult
	rec := httptest.NewRecorder()
	if err := s.gc(rec, httptest.NewRequest("POST", "/v1/gc", nil)); err != nil {
		return r, err
	}
	var view api.Job
	if err := json.Unmarshal(rec.Body.Bytes(), &view); err != nil {
		return r, err
	}
	j, _ := s.jobs.get(view.ID)
	evs := follow(j)
	last := evs[len(evs)-1]
	if last.State != api.StateDone {
		return r, fmt.Errorf("gc job: %+v", last.Error)
	}
	return r, json.Unmarshal(last.Result, &r)
}

// TestReliabilitySharedBucketDaemons: two daemon.Servers share one MinIO
// bucket. Daemon A ingests snapshots in jobs continuously and forgets old
// ones; daemon B runs its gc handler in a loop (and ingests now and then).
// Afterwards every snapshot of both restores byte-identical from either
// daemon, and no gc held the bucket while a writer did.
func TestReliabilitySharedBucketDaemons(t *testing.T) {
	rounds := reliability.Size(10, 50)
	r := reliability.Start(t, "shared bucket gc (daemons)",
		"two vmrepd servers on one MinIO bucket: snapshot jobs on one, gc jobs in a loop on the other; every snapshot restored from both")
	r.Size = fmt.Sprintf("%d gc rounds", rounds)
	srv := testminio.Start(t, "vmrep-daemons")
	a := openSharedServer(t, srv, true)
	b := openSharedServer(t, srv, false)
	var log overlapLog
	a.jobs.bucket.observe = log.observer()
	b.jobs.bucket.observe = log.observer()
	ctx := context.Background()
	vgA, err := a.cat.CreateVG(ctx, volume.VG{Name: "a", Volumes: []volume.Volume{{Name: "boot", Role: volume.RoleBoot}}})
	if err != nil {
		t.Fatal(err)
	}
	vgB, err := b.cat.CreateVG(ctx, volume.VG{Name: "b", Volumes: []volume.Volume{{Name: "boot", Role: volume.RoleBoot}}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	want := map[string][]byte{}
	stop := make(chan struct{})
	ran := make(chan struct{}, 1)
	writerErr := make(chan error, 1)
	go func() {
		writerErr <- func() error {
			rng := rand.New(rand.NewPCG(9, 9))
			var pool [][]byte // dead content comes back in later snapshots
			for range 8 {
				pool = append(pool, testdisk.Content(rng, 0, 256<<10))
			}
			for {
				select {
				case <-stop:
					return nil
				default:
				}
				var data []byte
				for range 2 {
					data = append(data, pool[rng.IntN(len(pool))]...)
				}
				sn, forgot, err := snapshotJob(t, a, vgA, data, 1)
				if err != nil {
					return err
				}
				mu.Lock()
				want[sn.ID] = data
				for _, f := range forgot {
					delete(want, f.ID)
				}
				mu.Unlock()
				select {
				case ran <- struct{}{}:
				default:
				}
			}
		}()
	}()
	var deleted int64
	rngB := rand.New(rand.NewPCG(10, 10))
	for round := range rounds {
		select {
		case <-ran:
		case err := <-writerErr:
			t.Fatalf("daemon A: %v", err)
		}
		res, err := gcJob(b)
		if err != nil {
			close(stop)
			t.Fatalf("gc round %d on daemon B: %v", round, err)
		}
		deleted += res.BlobsDeleted
		t.Logf("round %d: %d snapshots, %d dead, %d pending, %d deleted", round, res.Snapshots, res.DeadBlobs, res.PendingBlobs, res.BlobsDeleted)
		if round%3 == 0 {
			data := testdisk.Content(rngB, 0, 256<<10)
			sn, _, err := snapshotJob(t, b, vgB, data, 100)
			if err != nil {
				close(stop)
				t.Fatal(err)
			}
			mu.Lock()
			want[sn.ID] = data
			mu.Unlock()
		}
	}
	close(stop)
	if err := <-writerErr; err != nil {
		t.Fatal(err)
	}
	// What the last rounds found dead goes once the grace is over.
	time.Sleep(b.jobs.bucket.opts.GCGrace)
	for range 2 {
		res, err := gcJob(b)
		if err != nil {
			t.Fatal(err)
		}
		deleted += res.BlobsDeleted
	}
	if deleted == 0 {
		t.Error("gc deleted nothing, though daemon A forgot snapshots: the test proves nothing")
	}
	r.Bad["gc and writer held the bucket at once"] = log.overlaps
	if log.overlaps != 0 {
		t.Errorf("a gc held the bucket while a writer did, %d times", log.overlaps)
	}
	r.Figures["blobs deleted"] = fmt.Sprint(deleted)
	t.Logf("%d gc rounds, %d blobs deleted", log.gcs, deleted)
	wrong := 0
	for _, s := range []*Server{a, b} {
		if _, err := s.store.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, vg := range []volume.VG{vgA, vgB} {
			snaps, err := s.cat.ListSnapshots(ctx, vg.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, sn := range snaps {
				n++
				m, err := volume.LoadManifest(ctx, s.store, sn.Volumes[0].Manifest)
				if err != nil {
					wrong++
					t.Errorf("%s: %v", sn.Name(), err)
					continue
				}
				out := filepath.Join(t.TempDir(), "restored")
				if _, err := restore.ToPath(ctx, s.store, m, out, restore.Options{}); err != nil {
					wrong++
					t.Errorf("restore %s: %v", sn.Name(), err)
					continue
				}
				got, _ := os.ReadFile(out)
				if w := want[sn.ID]; w == nil || !bytes.Equal(got, w) {
					wrong++
					t.Errorf("%s restored differs", sn.Name())
				}
			}
		}
		if n != len(want) {
			t.Errorf("%s lists %d snapshots, want %d", s.store.Dir(), n, len(want))
		}
	}
	r.Bad["snapshots restored wrong"] = wrong
}
