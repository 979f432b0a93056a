package diff

import (
	"context"
	"encoding/binary"
	"math/rand"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas/castest"
	"github.com/vmrep/vmrep/engine/volume"
)

const chunkLen = 64 << 10

func randomID(rng *rand.Rand) blob.ID {
	var id blob.ID
	binary.LittleEndian.PutUint64(id[0:], rng.Uint64())
	binary.LittleEndian.PutUint64(id[8:], rng.Uint64())
	binary.LittleEndian.PutUint64(id[24:], rng.Uint64())
	return id
}

// build writes a manifest of n chunk entries; change(i) may replace entry
// i's ID (or make it a hole).
func build(tb testing.TB, m *castest.MemStore, ids []blob.ID, change map[int]volume.Entry) *volume.Manifest {
	ctx := context.Background()
	w := volume.NewManifestWriter(m)
	for i, id := range ids {
		e := volume.Entry{ID: id, Length: chunkLen}
		if c, ok := change[i]; ok {
			e = c
		}
		if err := w.Add(ctx, e); err != nil {
			tb.Fatal(err)
		}
	}
	info, err := w.Finish(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	man, err := volume.LoadManifest(ctx, m, info.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return man
}

func TestVolumes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	m := castest.NewMemStore()
	ids := make([]blob.ID, 50000)
	for i := range ids {
		ids[i] = randomID(rng)
	}
	a := build(t, m, ids, nil)
	change := map[int]volume.Entry{
		10:    {ID: randomID(rng), Length: chunkLen},
		20000: {Hole: true, Length: chunkLen},
		20001: {Hole: true, Length: chunkLen},
	}
	b := build(t, m, ids, change)
	grown := build(t, m, append(ids[:len(ids):len(ids)], randomID(rng)), nil)
	tests := []struct {
		name string
		a, b *volume.Manifest
		want []Extent
	}{
		{"equal", a, a, nil},
		{"changed", a, b, []Extent{{Off: 10 * chunkLen, Len: chunkLen}, {Off: 20000 * chunkLen, Len: 2 * chunkLen, Zero: true}}},
		{"grown", a, grown, []Extent{{Off: 50000 * chunkLen, Len: chunkLen}}},
		{"shrunk", grown, a, nil},
		{"added", nil, a, []Extent{{Off: 0, Len: a.Size}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, st, err := Volumes(context.Background(), m, tc.a, tc.b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
			if tc.a == tc.b && st.PagesRead != 0 {
				t.Fatalf("equal manifests read %d pages", st.PagesRead)
			}
		})
	}
}

// BenchmarkDiff1TiB diffs two 16M-entry manifests (1 TiB of 64 KiB chunks)
// that differ in 0.1% of chunks, scattered or in runs of 64.
func BenchmarkDiff1TiB(b *testing.B) {
	for _, bc := range []struct {
		name string
		run  int
	}{{"clustered64", 64}, {"scattered", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewSource(1))
			m := castest.NewMemStore()
			n := 16 << 20
			ids := make([]blob.ID, n)
			for i := range ids {
				ids[i] = randomID(rng)
			}
			change := map[int]volume.Entry{}
			for len(change) < n/1000 {
				s := rng.Intn(n - bc.run)
				for k := range bc.run {
					change[s+k] = volume.Entry{ID: randomID(rng), Length: chunkLen}
				}
			}
			ma := build(b, m, ids, nil)
			mb := build(b, m, ids, change)
			ids = nil
			b.ResetTimer()
			var st Stats
			for b.Loop() {
				var err error
				if _, st, err = Volumes(context.Background(), m, ma, mb, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(st.PagesRead), "pages-read")
			b.ReportMetric(float64(st.PagesSkipped), "pages-skipped")
			b.ReportMetric(float64(st.ChangedChunks), "changed-chunks")
		})
	}
}
