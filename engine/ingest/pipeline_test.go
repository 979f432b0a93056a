package ingest

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas/castest"
	"github.com/vmrep/vmrep/engine/chunker"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

func testCutter(t testing.TB) *chunker.Cutter {
	t.Helper()
	c, err := chunker.NewCutter(chunker.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// piece describes one run of a generated volume.
type piece struct {
	kind byte // 'r' random, 'z' zero, 't' text
	n    int
}

func genVolume(seed uint64, pieces ...piece) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x1234))
	var out []byte
	words := []string{"kernel ", "volume ", "snapshot ", "chunk ", "boot ", "data\n", "vmrep ", "0123 "}
	for _, p := range pieces {
		switch p.kind {
		case 'z':
			out = append(out, make([]byte, p.n)...)
		case 'r':
			b := make([]byte, p.n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			out = append(out, b...)
		case 't':
			var b []byte
			for len(b) < p.n {
				b = append(b, words[rng.IntN(len(words))]...)
			}
			out = append(out, b[:p.n]...)
		}
	}
	return out
}

// rebuild reads a manifest back into bytes.
func rebuild(t *testing.T, r blob.Reader, id blob.ID) ([]byte, []volume.Entry) {
	t.Helper()
	ctx := context.Background()
	m, err := volume.LoadManifest(ctx, r, id)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 0, m.Size)
	var entries []volume.Entry
	err = m.Walk(ctx, r, 0, func(off int64, e volume.Entry) error {
		if off != int64(len(out)) {
			t.Fatalf("entry at %d, want %d", off, len(out))
		}
		entries = append(entries, e)
		if e.Hole {
			out = append(out, make([]byte, e.Length)...)
			return nil
		}
		b, err := r.Get(ctx, e.ID, nil)
		if err != nil {
			return err
		}
		out = append(out, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, entries
}

func ingestMem(t *testing.T, store *castest.MemStore, src source.Reader, workers int) Stats {
	t.Helper()
	st, err := Volume(context.Background(), store, src, Options{Cutter: testCutter(t), Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var volumes = map[string][]piece{
	"empty":       nil,
	"one byte":    {{'r', 1}},
	"odd tail":    {{'r', 4097}},
	"all zero":    {{'z', 3 << 20}},
	"zero tail":   {{'r', 300 << 10}, {'z', 63 << 10}},
	"random":      {{'r', 5 << 20}},
	"short zeros": {{'r', 200 << 10}, {'z', 60 << 10}, {'r', 200 << 10}},
	"mixed":       {{'t', 1 << 20}, {'z', 1 << 20}, {'r', 3 << 20}, {'z', 64 << 10}, {'t', 100 << 10}, {'z', 8 << 10}, {'r', 777}},
	"unaligned":   {{'r', 5000}, {'z', 70 << 10}, {'r', 12345}, {'z', 130 << 10}, {'t', 99999}},
	"big":         {{'r', 9 << 20}, {'t', 4 << 20}, {'z', 2 << 20}, {'r', 7 << 20}},
}

func TestVolumeRoundTrip(t *testing.T) {
	for name, pieces := range volumes {
		t.Run(name, func(t *testing.T) {
			data := genVolume(1, pieces...)
			store := castest.NewMemStore()
			st := ingestMem(t, store, &memSource{data: data}, 0)
			if st.Size != int64(len(data)) {
				t.Fatalf("size %d, want %d", st.Size, len(data))
			}
			got, entries := rebuild(t, store, st.ID)
			if !bytes.Equal(got, data) {
				t.Fatal("rebuilt volume differs from source")
			}
			max := int64(chunker.DefaultParams().Max)
			for i, e := range entries {
				if i > 0 && e.Hole && entries[i-1].Hole {
					t.Errorf("entry %d: adjacent holes not merged", i)
				}
				if !e.Hole && e.Length > max {
					t.Errorf("entry %d: chunk of %d bytes", i, e.Length)
				}
			}
		})
	}
}

// The manifest depends only on the bytes: a sparse file, a dense one and one
// whose allocation map is coarse or unaligned all give the same manifest.
func TestSparseAndDenseGiveSameManifest(t *testing.T) {
	data := genVolume(2, volumes["mixed"]...)
	data = append(data, genVolume(3, volumes["unaligned"]...)...)
	want := ingestMem(t, castest.NewMemStore(), &memSource{data: data}, 0)
	for _, gran := range []int{512, 4096, 65536, 1 << 20} {
		src := &memSource{data: data, alloc: allocatedOf(data, gran)}
		st := ingestMem(t, castest.NewMemStore(), src, 0)
		if st.ID != want.ID {
			t.Errorf("allocation granularity %d: manifest %s, dense gives %s", gran, st.ID.Short(), want.ID.Short())
		}
		if gran == 4096 && st.ReadBytes >= want.ReadBytes {
			t.Errorf("sparse source read %d bytes, dense %d: holes were read", st.ReadBytes, want.ReadBytes)
		}
	}
}

func TestHoleRule(t *testing.T) {
	const a = 256 << 10
	for _, tc := range []struct {
		zeros    int
		wantHole bool
	}{
		{60 << 10, false},
		{64 << 10, true},
		{68 << 10, true},
	} {
		data := genVolume(4, piece{'r', a}, piece{'z', tc.zeros}, piece{'r', a})
		store := castest.NewMemStore()
		st := ingestMem(t, store, &memSource{data: data}, 0)
		_, entries := rebuild(t, store, st.ID)
		var off int64
		found := false
		for _, e := range entries {
			if e.Hole {
				if off != a || e.Length != int64(tc.zeros) {
					t.Errorf("zeros %d: hole at %d+%d, want %d+%d", tc.zeros, off, e.Length, a, tc.zeros)
				}
				found = true
			}
			off += e.Length
		}
		if found != tc.wantHole {
			t.Errorf("zeros %d: hole found %v, want %v", tc.zeros, found, tc.wantHole)
		}
	}
}

func TestReingestStoresNothing(t *testing.T) {
	data := genVolume(5, volumes["big"]...)
	store := castest.NewMemStore()
	first := ingestMem(t, store, &memSource{data: data}, 0)
	puts := store.Stored()
	second := ingestMem(t, store, &memSource{data: data}, 0)
	if second.ID != first.ID {
		t.Fatal("same bytes gave another manifest")
	}
	if second.NewBytes != 0 || second.NewChunks != 0 || store.Stored() != puts {
		t.Fatalf("re-ingest stored %d new bytes in %d chunks (%d puts)", second.NewBytes, second.NewChunks, store.Stored()-puts)
	}
	if first.NewBytes == 0 {
		t.Fatal("first ingest reported no new bytes")
	}
}

func TestWorkersDoNotChangeResult(t *testing.T) {
	data := genVolume(6, volumes["big"]...)
	one := ingestMem(t, castest.NewMemStore(), &memSource{data: data}, 1)
	for _, w := range []int{2, 7} {
		if st := ingestMem(t, castest.NewMemStore(), &memSource{data: data}, w); st.ID != one.ID {
			t.Errorf("%d workers: manifest differs from 1 worker", w)
		}
	}
}

// An edit changes only the chunks around it.
func TestEditDedups(t *testing.T) {
	data := genVolume(7, piece{'r', 16 << 20})
	store := castest.NewMemStore()
	ingestMem(t, store, &memSource{data: data}, 0)
	edited := bytes.Clone(data)
	copy(edited[8<<20:], bytes.Repeat([]byte{0xee}, 4096))
	st := ingestMem(t, store, &memSource{data: edited}, 0)
	if st.NewBytes > 3*int64(chunker.DefaultParams().Max) {
		t.Fatalf("a 4 KiB edit stored %d new bytes", st.NewBytes)
	}
}

type failingSource struct {
	memSource
	failAt int64
}

func (s *failingSource) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > s.failAt {
		return 0, errors.New("disk on fire")
	}
	return s.memSource.ReadAt(p, off)
}

func TestErrorsStopThePipeline(t *testing.T) {
	before := runtime.NumGoroutine()
	data := genVolume(8, piece{'r', 12 << 20})
	src := &failingSource{memSource: memSource{data: data}, failAt: 7 << 20}
	_, err := Volume(context.Background(), castest.NewMemStore(), src, Options{Cutter: testCutter(t)})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("disk on fire")) {
		t.Fatalf("err = %v, want the read error", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Volume(ctx, castest.NewMemStore(), &memSource{data: data}, Options{Cutter: testCutter(t)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled ingest: err = %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines left running, %d before", n, before)
	}
}

type discard struct{}

func (discard) Put(context.Context, blob.Type, blob.ID, []byte) (bool, error) { return true, nil }
func (discard) Flush(context.Context) error                                   { return nil }

// BenchmarkPipeline measures read, hole finding, chunking and hashing, with a
// store that keeps nothing.
func BenchmarkPipeline(b *testing.B) {
	data := genVolume(9, piece{'r', 32 << 20}, piece{'z', 16 << 20}, piece{'t', 16 << 20})
	c := testCutter(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Volume(context.Background(), discard{}, &memSource{data: data}, Options{Cutter: c}); err != nil {
			b.Fatal(err)
		}
	}
}
