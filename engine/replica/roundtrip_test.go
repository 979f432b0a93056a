package replica

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/volume"
)

// mutate applies one random kind of change to a copy of the images.
func mutate(rng *rand.Rand, imgs []image) []image {
	out := make([]image, len(imgs))
	for i, im := range imgs {
		out[i] = im
		out[i].data = append([]byte(nil), im.data...)
	}
	d := &out[rng.Intn(len(out))].data
	switch rng.Intn(8) {
	case 0: // scattered 4 KiB writes
		for range 1 + rng.Intn(40) {
			off := rng.Intn(len(*d)/4096) * 4096
			rng.Read((*d)[off:min(off+4096, len(*d))])
		}
	case 1: // a large overwrite
		off := rng.Intn(len(*d))
		n := min(len(*d)-off, 1+rng.Intn(2<<20))
		rng.Read((*d)[off : off+n])
	case 2: // a zeroed range
		off := rng.Intn(len(*d))
		clear((*d)[off:min(len(*d), off+rng.Intn(1<<20))])
	case 3: // grown, with data in the new tail
		tail := make([]byte, 1+rng.Intn(3<<20))
		rng.Read(tail[:rng.Intn(len(tail))])
		*d = append(*d, tail...)
	case 4: // shrunk
		*d = (*d)[:len(*d)-rng.Intn(len(*d)/2)]
	case 6: // a range moved, maybe over its own source (copy records)
		n := min(len(*d)/2, 64<<10+rng.Intn(1<<20))
		src, dst := rng.Intn(len(*d)-n+1), rng.Intn(len(*d)-n+1)
		copy((*d)[dst:dst+n], append([]byte(nil), (*d)[src:src+n]...))
	case 7: // the same new bytes written twice, frames apart (target copies)
		writeTwice(rng, d, 2<<20+rng.Intn(3<<20))
	case 5: // an added data volume
		nd := make([]byte, 1<<20+rng.Intn(3<<20))
		rng.Read(nd[:len(nd)/2])
		out = append(out, image{id: volume.NewVolumeID(), name: fmt.Sprintf("data%d", len(out)), role: volume.RoleData, data: nd})
	}
	return out
}

// writeTwice writes n new random bytes at two places of *d at least 4 MiB
// of changes apart, so they fall in different frames and the exporter
// makes target copies of the second; *d grows when too small.
func writeTwice(rng *rand.Rand, d *[]byte, n int) {
	if len(*d) < 2*n+(1<<20) {
		*d = append(*d, make([]byte, 2*n+(1<<20)-len(*d))...)
	}
	nb := make([]byte, n)
	rng.Read(nb)
	a := rng.Intn(len(*d) - 2*n + 1)
	b := a + n + rng.Intn(len(*d)-a-2*n+1)
	copy((*d)[a:], nb)
	copy((*d)[b:], nb)
}

func randomImage(rng *rand.Rand) []byte {
	b := make([]byte, 4<<20+rng.Intn(12<<20))
	// Data with holes, so manifests hold both kinds of entries.
	for off := 0; off < len(b); off += 1 << 20 {
		if rng.Intn(4) != 0 {
			rng.Read(b[off:min(len(b), off+(1<<20)-rng.Intn(256<<10))])
		}
	}
	return b
}

// TestRoundTrip exports random changes, applies them to a replica of the
// base and checks the replica equals the target; each iteration chains on
// the last, alternating single and split deltas.
func TestRoundTrip(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	if s := os.Getenv("VMREP_ROUNDTRIPS"); s != "" {
		fmt.Sscan(s, &n)
	}
	roundTrips(t, n)
}

// TestTargetCopies exports a target that holds the same new bytes twice,
// more than a frame apart, checks the delta carries the second as target
// copies, and applies it: the frames holding them go in the second round.
func TestTargetCopies(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	ctx := context.Background()
	e := newTestEnv(t)
	imgs := []image{{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot, data: randomImage(rng)}}
	base := e.snapshot(imgs)
	rep := filepath.Join(e.dir, "replica")
	if _, err := CreateReplica(ctx, e.store, base, rep, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	next := []image{imgs[0]}
	next[0].data = append([]byte(nil), imgs[0].data...)
	writeTwice(rng, &next[0].data, 5<<20)
	target := e.snapshot(next)
	path := filepath.Join(e.dir, "d.vmdelta")
	sum, err := build.Export(ctx, e.store, base, target, delta.FileSink(path), build.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.TargetCopyBytes < 1<<20 {
		t.Fatalf("target copies cover %d bytes, want most of the 5 MiB written twice (summary %+v)", sum.TargetCopyBytes, sum)
	}
	rd, err := delta.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Apply(ctx, rd, rep, ApplyOptions{Verify: VerifyFull, Blobs: e.store})
	if err != nil {
		t.Fatal(err)
	}
	if got.TargetCopyBytes != sum.TargetCopyBytes {
		t.Fatalf("apply counted %d target copy bytes, export %d", got.TargetCopyBytes, sum.TargetCopyBytes)
	}
	checkReplica(t, rep, next, 7)
}

// TestVersion2Deltas writes deltas as version 2 did (BLAKE3-256 frame
// hashes) and applies them with today's reader: replicas moved by deltas
// made before version 3 must still move.
func TestVersion2Deltas(t *testing.T) {
	defer delta.WriteVersion2ForTest()()
	roundTrips(t, 30)
}

// roundTrips runs n export-apply-check iterations, chained, alternating
// single files and split directories, in the format delta.WriteVersion names.
func roundTrips(t *testing.T, n int) {
	seed := rand.Int63()
	t.Logf("seed %d, format version %d", seed, delta.WriteVersion())
	rng := rand.New(rand.NewSource(seed))
	ctx := context.Background()
	e := newTestEnv(t)
	imgs := []image{{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot, data: randomImage(rng)}}
	base := e.snapshot(imgs)
	rep := filepath.Join(e.dir, "replica")
	if _, err := CreateReplica(ctx, e.store, base, rep, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	checkReplica(t, rep, imgs, seed)
	for i := range n {
		if len(imgs) > 3 || len(imgs[0].data) > 32<<20 {
			imgs = []image{imgs[0]}
			imgs[0].data = imgs[0].data[:min(len(imgs[0].data), 8<<20)]
		}
		next := mutate(rng, imgs)
		target := e.snapshot(next)
		path := filepath.Join(e.dir, fmt.Sprintf("d%d.vmdelta", i))
		sink := delta.FileSink(path)
		if i%2 == 1 {
			sink = delta.SplitSink(path, int64(64<<10+rng.Intn(1<<20)))
		}
		if _, err := build.Export(ctx, e.store, base, target, sink, build.ExportOptions{}); err != nil {
			t.Fatalf("seed %d iteration %d: export: %v", seed, i, err)
		}
		rd, err := delta.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("seed %d iteration %d: open: %v", seed, i, err)
		}
		if rd.Version() != delta.WriteVersion() {
			t.Fatalf("seed %d iteration %d: read version %d, wrote %d", seed, i, rd.Version(), delta.WriteVersion())
		}
		v := VerifyExtents
		if i%10 == 0 {
			v = VerifyFull
		}
		if _, err := Apply(ctx, rd, rep, ApplyOptions{Verify: v, Blobs: e.store}); err != nil {
			t.Fatalf("seed %d iteration %d: apply: %v", seed, i, err)
		}
		checkReplica(t, rep, next, seed)
		os.RemoveAll(path)
		base, imgs = target, next
	}
}
