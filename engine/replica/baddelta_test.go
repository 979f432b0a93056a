package replica

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/vfs"
)

// craftDelta rewrites the single-file delta good into out, letting change
// alter each frame (with its data decoded and stored raw), and seals the
// result with a valid trailer: a delta whose checksums all hold but whose
// content is wrong, as a buggy exporter or an attacker could write it.
func craftDelta(t *testing.T, good, out string, change func(seq int, f *delta.Frame)) {
	t.Helper()
	rd, err := delta.Open(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	w := delta.FileSink(out)
	if err := w.Begin(&rd.Header); err != nil {
		t.Fatal(err)
	}
	seq := 0
	err = rd.WalkFrames(context.Background(), true, func(f *delta.Frame) error {
		if f.DataLen > 0 && f.Mode == delta.StoredZstd {
			d, err := dec.DecodeAll(f.Stored, nil)
			if err != nil {
				return err
			}
			f.Mode, f.Stored = delta.StoredRaw, d
		}
		change(seq, f)
		seq++
		return w.Put(f.Volume, delta.AppendFrame(nil, f), len(f.Recs))
	})
	if err != nil {
		w.Abort()
		t.Fatal(err)
	}
	if _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
}

// frameCount returns how many frames the delta at path holds and the
// index of the last one with data records.
func frameCount(t *testing.T, path string) (n, lastData int) {
	t.Helper()
	rd, err := delta.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	lastData = -1
	err = rd.WalkFrames(context.Background(), false, func(f *delta.Frame) error {
		if f.DataLen > 0 {
			lastData = n
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, lastData
}

// movedPair returns a base image and a target with scattered overwrites
// across the volume and a moved range, so the delta has several frames,
// some with copy records.
func movedPair(rng *rand.Rand) (base, target []image) {
	d := make([]byte, 24<<20)
	rng.Read(d)
	base = []image{{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot, data: d}}
	td := append([]byte(nil), d...)
	for off := 0; off < len(td); off += 3 << 20 {
		rng.Read(td[off+4096 : off+4096+(1<<20)+rng.Intn(1<<20)])
	}
	copy(td[10<<20:], d[2<<20:2<<20+512<<10])
	target = []image{{id: base[0].id, name: "boot", role: volume.RoleBoot, data: td}}
	return base, target
}

// TestWrongContentDelta: a delta whose trailer is valid but one of whose
// frames does not produce its target hash (altered data, or an altered
// target hash) is refused before anything is written, blaming the delta;
// the replica keeps its base bytes, no journal and no stage, and the
// genuine delta then applies.
func TestWrongContentDelta(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		change func(last int) func(seq int, f *delta.Frame)
	}{
		{"data altered", func(last int) func(int, *delta.Frame) {
			return func(seq int, f *delta.Frame) {
				if seq == last {
					f.Stored[len(f.Stored)/2] ^= 0x40
				}
			}
		}},
		{"target hash altered", func(last int) func(int, *delta.Frame) {
			return func(seq int, f *delta.Frame) {
				if seq == last {
					f.TargetHash[3] ^= 1
				}
			}
		}},
		{"copy frame hash altered", func(int) func(int, *delta.Frame) {
			return func(seq int, f *delta.Frame) {
				for _, r := range f.Recs {
					if r.Kind == delta.KindCopy {
						f.TargetHash[0] ^= 1
						return
					}
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t)
			one, two := movedPair(rand.New(rand.NewSource(7)))
			s1, s2 := e.snapshot(one), e.snapshot(two)
			rep := filepath.Join(e.dir, "replica")
			if _, err := CreateReplica(ctx, e.store, s1, rep, ReplicaOptions{}); err != nil {
				t.Fatal(err)
			}
			good, bad := filepath.Join(e.dir, "good.vmdelta"), filepath.Join(e.dir, "bad.vmdelta")
			if _, err := build.Export(ctx, e.store, s1, s2, delta.FileSink(good), build.ExportOptions{}); err != nil {
				t.Fatal(err)
			}
			n, last := frameCount(t, good)
			if n < 3 || last < 1 {
				t.Fatalf("the delta has %d frames (last with data %d); the test needs several", n, last)
			}
			craftDelta(t, good, bad, c.change(last))
			before := hashDir(t, rep)
			rd, err := delta.Open(context.Background(), bad)
			if err != nil {
				t.Fatalf("the crafted delta must open (valid trailer): %v", err)
			}
			_, err = Apply(ctx, rd, rep, ApplyOptions{})
			if !errors.Is(err, ErrDamaged) || errors.Is(err, ErrNotBase) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("wrong delta: got %v, want a one-line error blaming the delta", err)
			}
			sameHashes(t, "refused wrong delta", before, hashDir(t, rep))
			rg, err := delta.Open(context.Background(), good)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Apply(ctx, rg, rep, ApplyOptions{Verify: VerifyFull, Blobs: e.store}); err != nil {
				t.Fatalf("genuine delta after a refused wrong one: %v", err)
			}
			checkReplica(t, rep, two, 7)
		})
	}
}

// TestCreateOverJournal: a replica left in the middle of an apply (a
// journal and a stage naming some delta) is recovered by writing a
// snapshot over it: the journal and stages go, and a delta from that
// snapshot applies.
func TestCreateOverJournal(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	one, two := movedPair(rand.New(rand.NewSource(8)))
	s1, s2 := e.snapshot(one), e.snapshot(two)
	rep := filepath.Join(e.dir, "replica")
	if _, err := CreateReplica(ctx, e.store, s1, rep, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	id := one[0].id
	var other [32]byte
	other[0] = 9
	j := &journal{Delta: other, Base: s1.ID, Target: "elsewhere", Volumes: []string{id}}
	j.setStage(id, other)
	if err := writeJournal(vfs.Default, rep, j); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stagePath(rep, id), []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Scribble on the volume, as a half-done apply would have.
	f, err := os.OpenFile(VolumePath(rep, id), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(make([]byte, 1<<20), 3<<20)
	f.Close()
	if _, err := CreateReplica(ctx, e.store, s1, rep, ReplicaOptions{Replace: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(rep, JournalName), stagePath(rep, id)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("replica create left %s: %v", filepath.Base(p), err)
		}
	}
	good := filepath.Join(e.dir, "good.vmdelta")
	if _, err := build.Export(ctx, e.store, s1, s2, delta.FileSink(good), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	rd, err := delta.Open(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, rd, rep, ApplyOptions{}); err != nil {
		t.Fatalf("delta after replica create over a journal: %v", err)
	}
	checkReplica(t, rep, two, 8)
}

// TestStuckByWrongDelta: a replica that an earlier version left stuck
// (a wrong delta's journal, some frames written) is refused again by that
// delta before anything more is written, blaming the delta; the genuine
// delta's refusal names the way out, and replica create then recovers it.
func TestStuckByWrongDelta(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	one, two := movedPair(rand.New(rand.NewSource(9)))
	s1, s2 := e.snapshot(one), e.snapshot(two)
	rep := filepath.Join(e.dir, "replica")
	if _, err := CreateReplica(ctx, e.store, s1, rep, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	good, bad := filepath.Join(e.dir, "good.vmdelta"), filepath.Join(e.dir, "bad.vmdelta")
	if _, err := build.Export(ctx, e.store, s1, s2, delta.FileSink(good), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	altered := false
	craftDelta(t, good, bad, func(seq int, f *delta.Frame) {
		if !altered && seq > 0 && f.DataLen > 0 && !f.HasCopies() {
			f.Stored[0] ^= 1
			altered = true
		}
	})
	rb, err := delta.Open(context.Background(), bad)
	if err != nil {
		t.Fatal(err)
	}
	id := one[0].id
	if err := writeJournal(vfs.Default, rep, &journal{Delta: rb.Digest, Base: s1.ID, Target: s2.ID, Volumes: []string{id}}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(VolumePath(rep, id), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(two[0].data[4096:4096+64<<10], 4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before := hashDir(t, rep)
	if _, err := Apply(ctx, rb, rep, ApplyOptions{}); !errors.Is(err, ErrDamaged) {
		t.Fatalf("wrong delta again: got %v, want ErrDamaged", err)
	}
	sameHashes(t, "wrong delta again", before, hashDir(t, rep))
	rg, err := delta.Open(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, rg, rep, ApplyOptions{}); !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "replica create --force") {
		t.Fatalf("genuine delta over the journal: got %v, want ErrInterrupted naming replica create --force", err)
	}
	if _, err := CreateReplica(ctx, e.store, s1, rep, ReplicaOptions{Replace: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, rg, rep, ApplyOptions{Verify: VerifyFull, Blobs: e.store}); err != nil {
		t.Fatalf("genuine delta after replica create: %v", err)
	}
	checkReplica(t, rep, two, 9)
}
