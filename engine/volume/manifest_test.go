package volume

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas/castest"
)

// chunkID returns a random chunk ID that ends a page exactly when cut.
func chunkID(rng *rand.Rand, cut bool) blob.ID {
	var id blob.ID
	for i := 0; i < len(id); i += 8 {
		binary.LittleEndian.PutUint64(id[i:], rng.Uint64())
	}
	if cut {
		id[24] = 0
		id[25] &= 0xf0
	} else if endsPage(id) {
		id[24] = 1
	}
	return id
}

// randomEntries makes n entries, some of length zero, with holes (often
// adjacent) and page-ending chunks in the given proportions.
func randomEntries(rng *rand.Rand, n int, holeP, cutP float64) []Entry {
	es := make([]Entry, n)
	for i := range es {
		switch {
		case rng.Float64() < 0.02:
			es[i] = Entry{Length: 0, Hole: rng.IntN(2) == 0, ID: chunkID(rng, false)}
		case rng.Float64() < holeP:
			es[i] = Entry{Length: 1 + rng.Int64N(1<<20), Hole: true}
		default:
			es[i] = Entry{ID: chunkID(rng, rng.Float64() < cutP), Length: 1 + rng.Int64N(256<<10)}
		}
	}
	return es
}

// canonical is the manifest the writer must produce from es, computed the
// simple way.
func canonical(es []Entry) []Entry {
	var out []Entry
	for _, e := range es {
		if e.Length == 0 {
			continue
		}
		if e.Hole {
			e.ID = blob.ID{}
			if n := len(out); n > 0 && out[n-1].Hole {
				out[n-1].Length += e.Length
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

func writeManifest(t testing.TB, w blob.Writer, es []Entry) ManifestInfo {
	t.Helper()
	ctx := context.Background()
	mw := NewManifestWriter(w)
	for _, e := range es {
		if err := mw.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	info, err := mw.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func walkAll(t testing.TB, m *Manifest, r blob.Reader, from int64) (offs []int64, es []Entry) {
	t.Helper()
	err := m.Walk(context.Background(), r, from, func(off int64, e Entry) error {
		offs = append(offs, off)
		es = append(es, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return offs, es
}

// checkCuts checks that pages end exactly where the format says.
func checkCuts(t *testing.T, m *Manifest, r blob.Reader) {
	t.Helper()
	for i := range m.Pages {
		p, err := m.LoadPage(context.Background(), r, i, nil)
		if err != nil {
			t.Fatal(err)
		}
		last := p.Entries[len(p.Entries)-1]
		cutByID := !last.Hole && endsPage(last.ID)
		if i < len(m.Pages)-1 && !cutByID && len(p.Entries) != MaxPageEntries {
			t.Fatalf("page %d of %d ends without a cut (%d entries)", i, len(m.Pages), len(p.Entries))
		}
	}
}

func TestManifestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bs := castest.NewMemStore()
	for round := 0; round < 150; round++ {
		n := rng.IntN(3000)
		holeP, cutP := rng.Float64()*0.6, rng.Float64()*0.05
		if round%10 == 0 {
			n, cutP = 20000+rng.IntN(20000), 0 // pages cut by the entry cap only
		}
		in := randomEntries(rng, n, holeP, cutP)
		want := canonical(in)
		info := writeManifest(t, bs, in)
		m, err := LoadManifest(context.Background(), bs, info.ID)
		if err != nil {
			t.Fatal(err)
		}
		offs, got := walkAll(t, m, bs, 0)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: walked %d entries, want %d (or contents differ)", round, len(got), len(want))
		}
		var size, chunks, holes, data int64
		for i, e := range want {
			if offs[i] != size {
				t.Fatalf("round %d entry %d: offset %d, want %d", round, i, offs[i], size)
			}
			size += e.Length
			if e.Hole {
				holes++
			} else {
				chunks++
				data += e.Length
			}
		}
		wantInfo := ManifestInfo{ID: info.ID, Size: size, Chunks: chunks, Holes: holes, DataBytes: data, Pages: len(m.Pages)}
		if info != wantInfo || m.Size != size {
			t.Fatalf("round %d: info %+v, want %+v (manifest size %d)", round, info, wantInfo, m.Size)
		}
		checkCuts(t, m, bs)
	}
}

func TestManifestEmpty(t *testing.T) {
	bs := castest.NewMemStore()
	info := writeManifest(t, bs, []Entry{{Length: 0, Hole: true}})
	m, err := LoadManifest(context.Background(), bs, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Size != 0 || len(m.Pages) != 0 || info.Pages != 0 {
		t.Fatalf("empty manifest: %+v, info %+v", m, info)
	}
	if m.FindPage(0) != -1 {
		t.Fatal("FindPage(0) in an empty manifest")
	}
	if _, es := walkAll(t, m, bs, 0); len(es) != 0 {
		t.Fatalf("walked %d entries of an empty manifest", len(es))
	}
}

func TestManifestWriterRejects(t *testing.T) {
	ctx := context.Background()
	for _, e := range []Entry{{Length: -1, Hole: true}, {Length: MaxChunkLength + 1}} {
		mw := NewManifestWriter(castest.NewMemStore())
		if err := mw.Add(ctx, e); err == nil {
			t.Errorf("Add(%+v) accepted", e)
		}
	}
	mw := NewManifestWriter(castest.NewMemStore())
	if _, err := mw.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := mw.Finish(ctx); err == nil {
		t.Error("second Finish accepted")
	}
}

// failingWriter fails every Put, to show that errors reach the caller.
type failingWriter struct{}

var errPut = errors.New("disk full")

func (failingWriter) Put(context.Context, blob.Type, blob.ID, []byte) (bool, error) {
	return false, errPut
}
func (failingWriter) Flush(context.Context) error { return nil }

func TestManifestWriterPutError(t *testing.T) {
	ctx := context.Background()
	mw := NewManifestWriter(failingWriter{})
	rng := rand.New(rand.NewPCG(3, 4))
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = mw.Add(ctx, Entry{ID: chunkID(rng, true), Length: 10})
	}
	if !errors.Is(err, errPut) {
		t.Fatalf("Add after a failed page Put: %v", err)
	}
	if _, err := mw.Finish(ctx); !errors.Is(err, errPut) {
		t.Fatalf("Finish after a failed Put: %v", err)
	}
}
