package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/retention"
	"github.com/vmrep/vmrep/engine/volume"
)

// forgetFixture is a daemon over a new store with VG "web" and one
// snapshot per entry of times (seq i+1 at times[i]); the snapshots name a
// manifest the store lacks, which forget never reads.
func forgetFixture(t *testing.T, dir string, times []time.Time) (*Server, volume.VG) {
	t.Helper()
	ctx := context.Background()
	if err := cas.Init(ctx, dir, cas.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	s := openTestServer(t, dir)
	vg, err := s.cat.CreateVG(ctx, volume.VG{Name: "web", NextSeq: 1,
		Volumes: []volume.Volume{{Name: "boot", Role: volume.RoleBoot, Size: 4096, Source: "/dev/null"}}})
	if err != nil {
		t.Fatal(err)
	}
	vg.NextSeq = uint64(len(times)) + 1
	if err := s.cat.UpdateVG(ctx, vg); err != nil {
		t.Fatal(err)
	}
	for i, at := range times {
		sn := volume.Snapshot{ID: volume.NewSnapshotID(), VGID: vg.ID, VGName: vg.Name, Seq: uint64(i + 1), Created: at,
			Volumes: []volume.VolumeSnapshot{{VolumeID: vg.Volumes[0].ID, Name: "boot", Role: volume.RoleBoot,
				Size: 4096, Manifest: blob.ID{1}}}}
		if err := s.cat.PutSnapshot(ctx, sn); err != nil {
			t.Fatal(err)
		}
	}
	return s, vg
}

func openTestServer(t *testing.T, dir string) *Server {
	t.Helper()
	st, err := cas.Open(context.Background(), dir, cas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Store: st})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	stopped[s] = new(sync.Once)
	t.Cleanup(func() { stopTestServer(s) })
	return s
}

var stopped = map[*Server]*sync.Once{}

// stopTestServer stops s and closes its store, once.
func stopTestServer(s *Server) {
	stopped[s].Do(func() {
		s.Shutdown(context.Background())
		s.store.Close()
	})
}

func seqsLeft(t *testing.T, s *Server, vg volume.VG) []uint64 {
	t.Helper()
	snaps, err := s.cat.ListSnapshots(context.Background(), vg.ID)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, sn := range snaps {
		seqs = append(seqs, sn.Seq)
	}
	return seqs
}

// TestForgetKeepsWhatThePolicySaysAndEveryPin: a week of daily snapshots
// under last=2,daily=3, with one snapshot pinned and one a replica is
// being written at: exactly the policy's, the pinned and the replica's are
// kept, each with its reasons, and a dry run deletes nothing.
func TestForgetKeepsWhatThePolicySaysAndEveryPin(t *testing.T) {
	ctx := context.Background()
	day := func(d, h, m int) time.Time { return time.Date(2026, 1, d, h, m, 0, 0, time.UTC) }
	times := []time.Time{day(1, 12, 0), day(2, 12, 0), day(3, 12, 0), day(4, 12, 0), day(5, 12, 0),
		day(6, 12, 0), day(7, 12, 0), day(7, 12, 30)}
	s, vg := forgetFixture(t, t.TempDir(), times)
	sn2, _ := s.cat.GetSnapshot(ctx, vg.ID, 2)
	if _, err := s.pins.pin(sn2, "before the upgrade", time.Now()); err != nil {
		t.Fatal(err)
	}
	sn4, _ := s.cat.GetSnapshot(ctx, vg.ID, 4)
	done := s.known.writingReplica(sn4)
	defer done()

	p := retention.Policy{Last: 2, Daily: 3}
	want := map[uint64][]string{
		8: {"newest", "last #1", "daily 2026-01-07"},
		7: {"last #2"},
		6: {"daily 2026-01-06"},
		5: {"daily 2026-01-05"},
		4: {"pinned: a replica is being written at it"},
		2: {`pinned: explicit pin "before the upgrade"`},
	}
	for _, dry := range []bool{true, false} {
		res, err := s.Forget(ctx, "web", p, dry)
		if err != nil {
			t.Fatal(err)
		}
		if res.Policy != "last=2,daily=3" || res.DryRun != dry || res.VG != "web" {
			t.Errorf("dry %v: result head %+v", dry, res)
		}
		var kept []uint64
		for _, d := range res.Keep {
			kept = append(kept, d.Seq)
			if !slices.Equal(d.Reasons, want[d.Seq]) {
				t.Errorf("dry %v: web@%d kept for %q, want %q", dry, d.Seq, d.Reasons, want[d.Seq])
			}
		}
		if !slices.Equal(kept, []uint64{8, 7, 6, 5, 4, 2}) {
			t.Errorf("dry %v: kept %v", dry, kept)
		}
		var removed []uint64
		for _, d := range res.Remove {
			removed = append(removed, d.Seq)
			if d.Removed == dry || len(d.Reasons) != 0 {
				t.Errorf("dry %v: web@%d removed=%v reasons %q", dry, d.Seq, d.Removed, d.Reasons)
			}
		}
		if !slices.Equal(removed, []uint64{3, 1}) {
			t.Errorf("dry %v: removed %v", dry, removed)
		}
		left := seqsLeft(t, s, vg)
		if dry && len(left) != 8 {
			t.Errorf("dry run left %v", left)
		}
		if !dry && !slices.Equal(left, []uint64{2, 4, 5, 6, 7, 8}) {
			t.Errorf("forget left %v", left)
		}
	}
	// Once the replica is written (done) and the pin removed, the same
	// policy removes them: they were kept for their pins alone.
	done()
	if _, err := s.pins.unpin(sn2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Forget(ctx, "web", p, false); err != nil {
		t.Fatal(err)
	}
	if left := seqsLeft(t, s, vg); !slices.Equal(left, []uint64{5, 6, 7, 8}) {
		t.Errorf("after unpin, forget left %v", left)
	}

	var ae *api.Error
	if _, err := s.Forget(ctx, "web", retention.Policy{}, false); !errors.As(err, &ae) || ae.Code != api.CodeInvalid {
		t.Errorf("empty policy: %v, want %s", err, api.CodeInvalid)
	}
	if _, err := s.Forget(ctx, "nope", p, false); !errors.Is(err, volume.ErrNotFound) {
		t.Errorf("unknown VG: %v", err)
	}
	// While a snapshot (or replication, or delete) of the VG holds its
	// writer lock, forget is busy and deletes nothing.
	unlock, e := s.writers.tryLock(vg.ID, vg.Name, "a snapshot")
	if e != nil {
		t.Fatal(e)
	}
	if _, err := s.Forget(ctx, "web", retention.Policy{Last: 1}, false); !errors.As(err, &ae) || ae.Code != api.CodeBusy {
		t.Errorf("forget while a snapshot runs: %v, want %s", err, api.CodeBusy)
	}
	unlock()
	if left := seqsLeft(t, s, vg); len(left) != 4 {
		t.Errorf("a busy forget left %v", left)
	}
}

// TestForgetWithDamagedPinsKeepsEverything: a pins file that cannot be
// read pins every snapshot, so forget removes nothing and says why, and
// pin refuses rather than overwrite the file.
func TestForgetWithDamagedPinsKeepsEverything(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s, vg := forgetFixture(t, dir, []time.Time{base, base.Add(time.Hour), base.Add(2 * time.Hour)})
	stopTestServer(s)
	if err := os.WriteFile(filepath.Join(dir, pinsFile), []byte(`{"pins":[{`), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openTestServer(t, dir)
	res, err := s.Forget(ctx, "web", retention.Policy{Last: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Remove) != 0 || len(seqsLeft(t, s, vg)) != 3 {
		t.Errorf("forget with a damaged pins file removed %+v", res.Remove)
	}
	sn, _ := s.cat.GetSnapshot(ctx, vg.ID, 1)
	if _, err := s.pins.pin(sn, "", time.Now()); err == nil {
		t.Error("pin with a damaged pins file succeeded")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, pinsFile)); string(b) != `{"pins":[{` {
		t.Errorf("damaged pins file rewritten: %q", b)
	}
}

// TestPinsSurviveRestart: a pin is in the store's pins file, read again by
// the next daemon; an unpin is too.
func TestPinsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s, vg := forgetFixture(t, dir, []time.Time{base, base.Add(time.Hour)})
	sn, _ := s.cat.GetSnapshot(ctx, vg.ID, 1)
	if _, err := s.pins.pin(sn, "n", time.Now()); err != nil {
		t.Fatal(err)
	}
	stopTestServer(s)
	s = openTestServer(t, dir)
	if e, ok := s.pins.lookup(sn); !ok || e.Note != "n" {
		t.Fatalf("pin after a restart: %+v %v", e, ok)
	}
	if had, err := s.pins.unpin(sn); !had || err != nil {
		t.Fatalf("unpin: %v %v", had, err)
	}
	stopTestServer(s)
	s = openTestServer(t, dir)
	if _, ok := s.pins.lookup(sn); ok {
		t.Fatal("unpinned snapshot pinned again after a restart")
	}
}
