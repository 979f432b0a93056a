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
)

// TestApplyChecksAlongside applies deltas opened with delta.OpenForApply,
// whose checksum pass runs alongside the pre-pass: a good one moves the
// replica to the target; one with a byte flipped in its records (or its
// trailer) is refused as malformed with the replica still at the base and
// no journal left.
func TestApplyChecksAlongside(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(11))
	e := newTestEnv(t)
	one := []image{{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot, data: randomImage(rng)}}
	two := mutate(rng, one)
	for len(two) != 1 || string(two[0].data) == string(one[0].data) {
		two = mutate(rng, one)
	}
	s1, s2 := e.snapshot(one), e.snapshot(two)
	good := filepath.Join(e.dir, "good.vmdelta")
	if _, err := build.Export(ctx, e.store, s1, s2, delta.FileSink(good), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{len(b) / 2, len(b) - 1} {
		rep := filepath.Join(e.dir, "bad-replica")
		os.RemoveAll(rep)
		if _, err := CreateReplica(ctx, e.store, s1, rep, ReplicaOptions{}); err != nil {
			t.Fatal(err)
		}
		bad := filepath.Join(e.dir, "bad.vmdelta")
		c := append([]byte(nil), b...)
		c[at] ^= 0x40
		if err := os.WriteFile(bad, c, 0o644); err != nil {
			t.Fatal(err)
		}
		rd, err := delta.OpenForApply(ctx, bad)
		if err != nil {
			t.Fatalf("flip at %d of %d: OpenForApply reads only the header, but: %v", at, len(b), err)
		}
		if _, err := Apply(ctx, rd, rep, ApplyOptions{}); !errors.Is(err, delta.ErrFormat) {
			t.Fatalf("flip at %d of %d: apply gave %v, want a malformed-delta error", at, len(b), err)
		}
		checkReplica(t, rep, one, 11)
		if j, err := ReadJournal(rep); j != nil || err != nil {
			t.Fatalf("flip at %d: a refused apply left a journal (%v, %v)", at, j, err)
		}
	}
	rep := filepath.Join(e.dir, "replica")
	if _, err := CreateReplica(ctx, e.store, s1, rep, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	rd, err := delta.OpenForApply(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Checked() {
		t.Fatal("OpenForApply checked the whole file")
	}
	if _, err := Apply(ctx, rd, rep, ApplyOptions{Verify: VerifyExtents}); err != nil {
		t.Fatal(err)
	}
	checkReplica(t, rep, two, 11)
	full, err := delta.Open(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if !rd.Checked() || rd.Digest != full.Digest {
		t.Fatalf("after apply: checked %v, digest %s, Open's %s", rd.Checked(), rd.Digest.Short(), full.Digest.Short())
	}
}
