package replica

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/volume"
)

func hashDir(t *testing.T, dir string) map[string]blob.ID {
	t.Helper()
	out := map[string]blob.ID{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = blob.Sum(b)
	}
	return out
}

func sameHashes(t *testing.T, what string, a, b map[string]blob.ID) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: replica files changed: %d before, %d after", what, len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("%s: replica file %s changed", what, k)
		}
	}
}

// chain builds snapshots 1, 2, 3 of one volume and a replica at 1.
func chain(t *testing.T) (*testEnv, []volume.Snapshot, [][]image, string) {
	rng := rand.New(rand.NewSource(1))
	e := newTestEnv(t)
	imgs := [][]image{{{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot, data: randomImage(rng)}}}
	imgs = append(imgs, mutate(rng, imgs[0]))
	imgs = append(imgs, mutate(rng, imgs[1]))
	var snaps []volume.Snapshot
	for _, im := range imgs {
		snaps = append(snaps, e.snapshot(im))
	}
	rep := filepath.Join(e.dir, "replica")
	if _, err := CreateReplica(context.Background(), e.store, snaps[0], rep, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	return e, snaps, imgs, rep
}

func TestChainAndWrongBase(t *testing.T) {
	ctx := context.Background()
	e, snaps, imgs, rep := chain(t)
	d12, d23 := filepath.Join(e.dir, "12.vmdelta"), filepath.Join(e.dir, "23")
	if _, err := build.Export(ctx, e.store, snaps[0], snaps[1], delta.FileSink(d12), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := build.Export(ctx, e.store, snaps[1], snaps[2], delta.SplitSink(d23, 32<<10), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	r23, err := delta.Open(context.Background(), d23)
	if err != nil {
		t.Fatal(err)
	}
	before := hashDir(t, rep)
	_, err = Apply(ctx, r23, rep, ApplyOptions{})
	if !errors.Is(err, ErrNotBase) || !strings.Contains(err.Error(), "replica is at web@1") {
		t.Fatalf("2→3 on a replica at 1: got %v, want a refusal naming web@1", err)
	}
	sameHashes(t, "refused apply", before, hashDir(t, rep))
	r12, err := delta.Open(context.Background(), d12)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*delta.Reader{r12, r23} {
		if _, err := Apply(ctx, d, rep, ApplyOptions{Verify: VerifyFull, Blobs: e.store}); err != nil {
			t.Fatal(err)
		}
	}
	checkReplica(t, rep, imgs[2], 1)
	// Applying again is a no-op: the state names the target.
	if s, err := Apply(ctx, r23, rep, ApplyOptions{}); err != nil || s.Written != 0 {
		t.Fatalf("re-apply: %+v, %v", s, err)
	}
}

// TestDamagedDelta: every truncation and 1,000 random bit flips are refused
// by delta.Open, or by the apply of a delta opened with OpenForApply, with
// a one-line error, and the replica stays as it was.
func TestDamagedDelta(t *testing.T) {
	ctx := context.Background()
	e, snaps, _, rep := chain(t)
	path := filepath.Join(e.dir, "12.vmdelta")
	if _, err := build.Export(ctx, e.store, snaps[0], snaps[1], delta.FileSink(path), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before := hashDir(t, rep)
	bad := filepath.Join(e.dir, "bad.vmdelta")
	// Some tries open the delta as apply does (OpenForApply): its checksum
	// pass then runs alongside the pre-pass over the damaged records, and
	// must refuse just the same. Those apply for real, so they are every
	// other bit flip and one truncation in 97, to keep the test's time.
	try := func(what string, b []byte, forApply bool) {
		if err := os.WriteFile(bad, b, 0o644); err != nil {
			t.Fatal(err)
		}
		open := delta.Open
		if forApply {
			open = delta.OpenForApply
		}
		rd, err := open(context.Background(), bad)
		if err == nil {
			_, err = Apply(ctx, rd, rep, ApplyOptions{})
		}
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%s: got %v, want a one-line error", what, err)
		}
	}
	step := 1
	if testing.Short() {
		step = max(1, len(good)/2000)
	}
	for n := 0; n < len(good); n += step {
		try("truncated", good[:n], n/step%97 == 0)
	}
	rng := rand.New(rand.NewSource(2))
	for i := range 1000 {
		b := append([]byte(nil), good...)
		b[rng.Intn(len(b))] ^= 1 << rng.Intn(8)
		try("bit flip", b, i%2 == 0)
	}
	sameHashes(t, "damaged deltas", before, hashDir(t, rep))
}
