package replica

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/vfs"
)

// TestTornRecord half-writes one data record, as a kill inside pwrite
// does, and checks that only a journal naming this very delta lets apply
// rewrite the range; without it, or with another delta's, the replica is
// refused untouched.
func TestTornRecord(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(3))
	e := newTestEnv(t)
	imgs := [][]image{{{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot, data: randomImage(rng)}}}
	for range 2 {
		next := []image{imgs[len(imgs)-1][0]}
		next[0].data = bigChange(rng, next[0].data, 2<<20)
		imgs = append(imgs, next)
	}
	var snaps []volume.Snapshot
	for _, im := range imgs {
		snaps = append(snaps, e.snapshot(im))
	}
	rep := filepath.Join(e.dir, "replica")
	if _, err := CreateReplica(ctx, e.store, snaps[0], rep, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	p12, p23 := filepath.Join(e.dir, "12.vmdelta"), filepath.Join(e.dir, "23.vmdelta")
	if _, err := build.Export(ctx, e.store, snaps[0], snaps[1], delta.FileSink(p12), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := build.Export(ctx, e.store, snaps[1], snaps[2], delta.FileSink(p23), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	rd, err := delta.Open(context.Background(), p12)
	if err != nil {
		t.Fatal(err)
	}
	other, err := delta.Open(context.Background(), p23)
	if err != nil {
		t.Fatal(err)
	}
	var torn delta.Record
	rd.Walk(ctx, true, func(r *delta.Record) error {
		if r.Kind == delta.KindData && r.Len >= 2*4096 && torn.Len == 0 {
			torn = *r
			torn.Data = append([]byte(nil), r.Data...)
		}
		return nil
	})
	if torn.Len == 0 {
		t.Fatal("the delta has no data record of two blocks or more")
	}
	// A frame is checked and repaired as one: every record of the torn
	// record's frame (they share its hashes) is rewritten.
	wantRepaired := int64(0)
	rd.Walk(ctx, false, func(r *delta.Record) error {
		if r.TargetHash == torn.TargetHash {
			wantRepaired++
		}
		return nil
	})
	vid := rd.Header.Volumes[torn.Volume].ID
	f, err := os.OpenFile(VolumePath(rep, vid), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(torn.Data[:torn.Len/2], torn.Off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before := hashDir(t, rep)
	tests := []struct {
		name    string
		journal *journal
		want    error
	}{
		{"no journal", nil, ErrNotBase},
		{"another delta's journal", &journal{Delta: other.Digest, Base: snaps[1].ID, Target: snaps[2].ID, Volumes: []string{vid}}, ErrInterrupted},
		{"this delta, another volume", &journal{Delta: rd.Digest, Base: snaps[0].ID, Target: snaps[1].ID, Volumes: []string{volume.NewVolumeID()}}, ErrNotBase},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := clearJournal(vfs.Default, rep); err != nil {
				t.Fatal(err)
			}
			if tc.journal != nil {
				if err := writeJournal(vfs.Default, rep, tc.journal); err != nil {
					t.Fatal(err)
				}
			}
			after := hashDir(t, rep)
			if _, err := Apply(ctx, rd, rep, ApplyOptions{}); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			sameHashes(t, tc.name, after, hashDir(t, rep))
		})
	}
	if err := clearJournal(vfs.Default, rep); err != nil {
		t.Fatal(err)
	}
	sameHashes(t, "refused applies", before, hashDir(t, rep))
	if err := writeJournal(vfs.Default, rep, &journal{Delta: rd.Digest, Base: snaps[0].ID, Target: snaps[1].ID, Volumes: []string{vid}}); err != nil {
		t.Fatal(err)
	}
	sum, err := Apply(ctx, rd, rep, ApplyOptions{Verify: VerifyFull, Blobs: e.store})
	if err != nil || sum.Repaired != wantRepaired {
		t.Fatalf("apply with this delta's journal: repaired %d, %v; want %d repaired (one frame)", sum.Repaired, err, wantRepaired)
	}
	checkReplica(t, rep, imgs[1], 1)
	if _, err := os.Stat(filepath.Join(rep, JournalName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("journal left after a finished apply: %v", err)
	}
}

// TestStaleJournal: a crash between the state file's rename and the
// journal's removal leaves a journal whose volumes are all at its target;
// the next apply of any delta removes it instead of refusing.
func TestStaleJournal(t *testing.T) {
	ctx := context.Background()
	e, snaps, imgs, rep := chain(t)
	p12, p23 := filepath.Join(e.dir, "12.vmdelta"), filepath.Join(e.dir, "23")
	if _, err := build.Export(ctx, e.store, snaps[0], snaps[1], delta.FileSink(p12), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := build.Export(ctx, e.store, snaps[1], snaps[2], delta.SplitSink(p23, 0), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	r12, _ := delta.Open(context.Background(), p12)
	r23, err := delta.Open(context.Background(), p23)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, r12, rep, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	stale := &journal{Delta: r12.Digest, Base: snaps[0].ID, Target: snaps[1].ID, Volumes: []string{imgs[0][0].id}}
	if err := writeJournal(vfs.Default, rep, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, r23, rep, ApplyOptions{}); err != nil {
		t.Fatalf("apply over a finished journal: %v", err)
	}
	checkReplica(t, rep, imgs[2], 1)
	if _, err := os.Stat(filepath.Join(rep, JournalName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale journal left: %v", err)
	}
}
