package gc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/cas/s3backend"
	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/gc"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/reliability"
	"github.com/vmrep/vmrep/internal/testdisk"
	"github.com/vmrep/vmrep/internal/testminio"
)

// node is one daemon's view of a shared bucket: its own store directory
// (index, tmp) joined to the bucket, and its catalog.
type node struct {
	name  string
	store *cas.Store
	cat   *volume.Catalog
	cut   *chunker.Cutter
	work  string
}

const prefix = "shared"

func openNode(t *testing.T, srv testminio.Server, name string, init bool) *node {
	t.Helper()
	ctx := context.Background()
	be, err := s3backend.New(ctx, s3backend.Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	dir := filepath.Join(work, "store")
	if init {
		cfg := cas.DefaultConfig()
		cfg.PackSize = 1 << 20 // many packs, so that some die whole and some are rewritten
		if err := cas.InitBackend(ctx, dir, cfg, be); err != nil {
			t.Fatal(err)
		}
	}
	s, err := cas.Open(ctx, dir, cas.Options{Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cut, err := ingest.NewCutter(s.Config().Chunker)
	if err != nil {
		t.Fatal(err)
	}
	return &node{name: name, store: s, cat: volume.NewCatalog(s), cut: cut, work: work}
}

// lockLog records, in the order they happened, when each node held the
// bucket lock, and counts any moment a gc and a writer held it at once.
type lockLog struct {
	mu         sync.Mutex
	writers    int
	gcHeld     bool
	overlaps   int
	gcRounds   int
	writerRuns int
}

func (l *lockLog) took(mode cas.LockMode) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if mode == cas.LockExclusive {
		if l.writers > 0 || l.gcHeld {
			l.overlaps++
		}
		l.gcHeld = true
		l.gcRounds++
		return
	}
	if l.gcHeld {
		l.overlaps++
	}
	l.writers++
	l.writerRuns++
}

func (l *lockLog) released(mode cas.LockMode) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if mode == cas.LockExclusive {
		l.gcHeld = false
	} else {
		l.writers--
	}
}

const (
	testLease = 2 * time.Second
	testGrace = 2500 * time.Millisecond
)

// locked runs fn under the bucket lock of mode, refreshed into n's index
// first, as the daemon runs a job.
func (n *node) locked(t *testing.T, log *lockLog, mode cas.LockMode, fn func(h cas.HeldLock) error) error {
	ctx := context.Background()
	h, err := cas.WaitLock(ctx, n.store.Locker(), cas.LockRequest{Mode: mode, Why: n.name, Store: n.store.Dir(), Lease: testLease}, nil)
	if err != nil {
		return err
	}
	log.took(mode)
	defer func() {
		log.released(mode)
		if err := h.Release(ctx); err != nil {
			t.Error(err)
		}
	}()
	if _, err := n.store.Refresh(ctx); err != nil {
		return err
	}
	if err := fn(h); err != nil {
		return err
	}
	select {
	case <-h.Lost():
		return h.Err()
	default:
	}
	return nil
}

func (n *node) snapshot(vg volume.VG, data []byte) (volume.Snapshot, error) {
	img := filepath.Join(n.work, vg.Name+".img")
	if err := os.WriteFile(img, data, 0o644); err != nil {
		return volume.Snapshot{}, err
	}
	open := func(ctx context.Context, v volume.Volume) (source.Reader, error) { return source.Open(ctx, img) }
	w := n.store.NewWriter()
	defer w.Close()
	snap, _, err := ingest.Snapshot(context.Background(), w, n.cat, vg, open, ingest.SnapshotOptions{Options: ingest.Options{Cutter: n.cut}})
	return snap, err
}

func (n *node) collect(ctx context.Context) (gc.Stats, error) {
	return gc.Run(ctx, n.store, n.cat, gc.Options{Pending: n.store.Control(), Grace: testGrace})
}

// TestReliabilitySharedBucketGC: two daemons share one MinIO bucket. One
// ingests snapshots continuously and forgets old ones; the other runs gc
// in a loop (two-phase, under the exclusive lock) and ingests now and then.
// Afterwards every snapshot of both restores byte-identical from either
// daemon, a gc never held the bucket while a writer did, and a lock whose
// holder died expires so that gc proceeds.
func TestReliabilitySharedBucketGC(t *testing.T) {
	rounds := reliability.Size(15, 50)
	r := reliability.Start(t, "shared bucket gc",
		"two daemons on one MinIO bucket: one ingests and forgets snapshots continuously while the other runs two-phase gc under the bucket's exclusive lock; every snapshot restored from both daemons")
	r.Size = fmt.Sprintf("%d gc rounds", rounds)
	ctx := context.Background()
	srv := testminio.Start(t, "vmrep-shared")
	a := openNode(t, srv, "ingest-a", true)
	b := openNode(t, srv, "gc-b", false)
	if !a.store.Shared() || a.store.Control() == nil {
		t.Fatal("an s3 store does not offer locks and control objects")
	}
	vgA, err := a.cat.CreateVG(ctx, volume.VG{Name: "a", Volumes: []volume.Volume{{Name: "boot", Role: volume.RoleBoot}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	vgB, err := b.cat.CreateVG(ctx, volume.VG{Name: "b", Volumes: []volume.Volume{{Name: "boot", Role: volume.RoleBoot}}})
	if err != nil {
		t.Fatal(err)
	}

	var log lockLog
	var mu sync.Mutex
	want := map[string][]byte{} // snapshot ID -> its bytes
	stop := make(chan struct{})
	writerErr := make(chan error, 1)
	ran := make(chan struct{}, 1)
	go func() {
		writerErr <- func() error {
			rng := rand.New(rand.NewPCG(7, 7))
			// Each image is two blocks drawn from eight: content that a
			// forgotten snapshot left dead comes back in a later one, so a
			// writer that deduplicated against its stale index would name
			// blobs gc deleted.
			var pool [][]byte
			for range 8 {
				pool = append(pool, testdisk.Content(rng, 0, 256<<10))
			}
			var live []volume.Snapshot
			for i := 0; ; i++ {
				select {
				case <-stop:
					return nil
				default:
				}
				var data []byte
				for range 2 {
					data = append(data, pool[rng.IntN(len(pool))]...)
				}
				err := a.locked(t, &log, cas.LockShared, func(cas.HeldLock) error {
					sn, err := a.snapshot(vgA, data)
					if err != nil {
						return err
					}
					mu.Lock()
					want[sn.ID] = data
					mu.Unlock()
					live = append(live, sn)
					if len(live) > 1 {
						if err := a.cat.DeleteSnapshot(ctx, vgA.ID, live[0].Seq); err != nil {
							return err
						}
						mu.Lock()
						delete(want, live[0].ID)
						mu.Unlock()
						live = live[1:]
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("writer round %d: %w", i, err)
				}
				select {
				case ran <- struct{}{}:
				default:
				}
			}
		}()
	}()

	var deleted int64
	rngB := rand.New(rand.NewPCG(8, 8))
	for round := range rounds {
		// A writer run between two gc rounds, as gc runs seldom in life;
		// the writer keeps running during the round.
		select {
		case <-ran:
		case err := <-writerErr:
			t.Fatalf("writer: %v", err)
		}
		err := b.locked(t, &log, cas.LockExclusive, func(h cas.HeldLock) error {
			// The bucket agrees: no writer lock taken before gc's is
			// live (a later one is a taker about to back off).
			locks, err := b.store.Locker().Locks(ctx)
			if err != nil {
				return err
			}
			for _, li := range locks {
				if li.Mode == cas.LockShared && !li.Stale(time.Now()) && li.Created.Before(h.Info().Created) {
					r.Bad["writer locks live during gc"]++
					t.Errorf("round %d: a writer lock of %s is live while gc holds the bucket", round, li.Why)
				}
			}
			st, err := b.collect(ctx)
			deleted += st.BlobsDeleted
			t.Logf("round %d: %d snapshots, %d dead, %d pending, %d deleted", round, st.Snapshots, st.DeadBlobs, st.PendingBlobs, st.BlobsDeleted)
			return err
		})
		if err != nil {
			close(stop)
			t.Fatalf("gc round %d: %v", round, err)
		}
		if round%3 == 0 {
			data := testdisk.Content(rngB, 0, 512<<10)
			err := b.locked(t, &log, cas.LockShared, func(cas.HeldLock) error {
				sn, err := b.snapshot(vgB, data)
				mu.Lock()
				want[sn.ID] = data
				mu.Unlock()
				return err
			})
			if err != nil {
				close(stop)
				t.Fatalf("ingest on the gc daemon, round %d: %v", round, err)
			}
		}
	}
	close(stop)
	if err := <-writerErr; err != nil {
		t.Fatal(err)
	}
	// Blobs the last rounds found dead are deleted once the grace is over.
	time.Sleep(testGrace)
	for range 2 {
		err := b.locked(t, &log, cas.LockExclusive, func(cas.HeldLock) error {
			st, err := b.collect(ctx)
			deleted += st.BlobsDeleted
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	r.Bad["gc and writer held the bucket at once"] = log.overlaps
	if log.overlaps != 0 {
		t.Errorf("a gc held the bucket lock while a writer did, %d times", log.overlaps)
	}
	if deleted == 0 {
		t.Error("gc deleted nothing, though the writer forgot snapshots: the test proves nothing")
	}
	r.Figures["writer runs"] = fmt.Sprint(log.writerRuns)
	r.Figures["blobs deleted"] = fmt.Sprint(deleted)
	t.Logf("%d gc rounds, %d writer runs, %d blobs deleted", log.gcRounds, log.writerRuns, deleted)

	wrong := 0
	for _, n := range []*node{a, b} {
		if _, err := n.store.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		count := 0
		for _, vg := range []volume.VG{vgA, vgB} {
			snaps, err := n.cat.ListSnapshots(ctx, vg.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, sn := range snaps {
				count++
				if !n.restores(t, sn, want[sn.ID]) {
					wrong++
				}
			}
		}
		if count != len(want) {
			t.Errorf("%s lists %d snapshots, want %d", n.name, count, len(want))
		}
		rep, err := n.store.Verify(ctx, cas.VerifyOptions{})
		if err != nil || len(rep.Problems) > 0 {
			t.Errorf("verify on %s: %v %v", n.name, rep.Problems, err)
		}
	}
	r.Bad["snapshots restored wrong"] = wrong
	staleLockExpires(t, srv, b)
}

func (n *node) restores(t *testing.T, sn volume.Snapshot, want []byte) bool {
	t.Helper()
	ctx := context.Background()
	m, err := volume.LoadManifest(ctx, n.store, sn.Volumes[0].Manifest)
	if err != nil {
		t.Errorf("%s: manifest of %s: %v", n.name, sn.Name(), err)
		return false
	}
	out := filepath.Join(n.work, "restored.img")
	if _, err := restore.ToPath(ctx, n.store, m, out, restore.Options{}); err != nil {
		t.Errorf("%s: restore %s: %v", n.name, sn.Name(), err)
		return false
	}
	got, _ := os.ReadFile(out)
	if want == nil || !bytes.Equal(got, want) {
		t.Errorf("%s: %s restored differs from what was ingested", n.name, sn.Name())
		return false
	}
	return true
}

// staleLockExpires leaves a writer lock in the bucket as a killed daemon
// would (written once, never refreshed): gc waits while it is live, names
// its holder, and proceeds once it has expired.
func staleLockExpires(t *testing.T, srv testminio.Server, n *node) {
	ctx := context.Background()
	client, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	obj, _ := json.Marshal(map[string]any{"version": 1, "mode": "shared", "id": "00000000deadbeef", "host": "killed-host",
		"pid": 4242, "store": "/var/lib/vmrep", "why": "snapshot", "created": now, "expires": now.Add(testLease)})
	key := prefix + "/locks/shared-00000000deadbeef"
	if _, err := client.PutObject(ctx, srv.Bucket, key, bytes.NewReader(obj), int64(len(obj)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	var waited []*cas.LockBusyError
	h, err := cas.WaitLock(ctx, n.store.Locker(), cas.LockRequest{Mode: cas.LockExclusive, Why: "gc", Lease: testLease},
		func(e *cas.LockBusyError) { waited = append(waited, e) })
	if err != nil {
		t.Fatalf("gc after the writer's holder died: %v", err)
	}
	defer h.Release(ctx)
	if len(waited) == 0 || waited[0].Held.Host != "killed-host" || waited[0].Held.PID != 4242 {
		t.Fatalf("gc did not wait for the live lock of the killed holder: %v", waited)
	}
	t.Logf("gc waited: %v", waited[0])
	if _, err := client.StatObject(ctx, srv.Bucket, key, minio.StatObjectOptions{}); !errors.Is(err, err) || minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("the stale lock object is still there after gc took the bucket: %v", err)
	}
}
