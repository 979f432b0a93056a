package ingest

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas/castest"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

// randomVolume makes a volume of data runs and zero runs of every size
// around HoleMin, so that holes, short zero gaps and all-zero chunks occur.
func randomVolume(rng *rand.Rand, size int) []byte {
	var ps []piece
	for n := 0; n < size; {
		var p piece
		switch rng.IntN(6) {
		case 0, 1:
			p = piece{'r', 1 + rng.IntN(600<<10)}
		case 2:
			p = piece{'t', 1 + rng.IntN(300<<10)}
		case 3:
			p = piece{'z', HoleMin - 8<<10 + rng.IntN(24<<10)}
		case 4:
			p = piece{'z', rng.IntN(2 << 20)}
		default:
			p = piece{'z', rng.IntN(HoleMin)}
		}
		p.n = min(p.n, size-n)
		ps = append(ps, p)
		n += p.n
	}
	return genVolume(rng.Uint64(), ps...)
}

// mutate changes random ranges of data in place and returns them.
func mutate(rng *rand.Rand, data []byte) []source.Range {
	var changed []source.Range
	for range rng.IntN(5) {
		off := rng.IntN(len(data))
		n := min(1+rng.IntN(200<<10), len(data)-off)
		switch rng.IntN(3) {
		case 0:
			clear(data[off : off+n])
		case 1:
			for i := range n {
				data[off+i] = byte(rng.Uint32())
			}
		default:
			data[off] ^= 0x5a // one byte
			n = 1
		}
		changed = append(changed, source.Range{Off: int64(off), Len: int64(n)})
	}
	return changed
}

// widen makes a hint coarser than the truth, as a source that knows only
// clusters would; any superset of the changes is a correct hint.
func widen(rng *rand.Rand, rs []source.Range, size int64) []source.Range {
	out := make([]source.Range, 0, len(rs)+1)
	for _, r := range rs {
		lo, hi := rng.Int64N(300<<10), rng.Int64N(300<<10)
		s, e := max(r.Off-lo, 0), min(r.Off+r.Len+hi, size)
		out = append(out, source.Range{Off: s, Len: e - s})
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// TestHintedIngestEqualsFull is the property the hint rests on: whatever the
// changes and however coarse the hint, a hinted ingest makes the manifest a
// full ingest makes.
func TestHintedIngestEqualsFull(t *testing.T) {
	ctx := context.Background()
	cut := testCutter(t)
	var saved, total, spliced int64
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 77))
		size := 1<<20 + rng.IntN(12<<20)
		data := randomVolume(rng, size)
		blobs := castest.NewMemStore()
		sparse := func(d []byte) *memSource {
			if rng.IntN(2) == 0 {
				return &memSource{data: d}
			}
			return &memSource{data: d, alloc: allocatedOf(d, 4096<<rng.IntN(6))}
		}
		baseSt, err := Volume(ctx, blobs, sparse(data), Options{Cutter: cut})
		if err != nil {
			t.Fatal(err)
		}
		base, err := volume.LoadManifest(ctx, blobs, baseSt.ID)
		if err != nil {
			t.Fatal(err)
		}
		next := append([]byte(nil), data...)
		changed := mutate(rng, next)
		full, err := Volume(ctx, blobs, sparse(next), Options{Cutter: cut})
		if err != nil {
			t.Fatal(err)
		}
		hint := &Hint{Base: base, Pages: blobs, Changed: changed}
		if rng.IntN(2) == 0 {
			hint.Changed = widen(rng, changed, int64(size))
		}
		// An exact hint (a dirty bitmap) takes the unchanged bytes around
		// a change from the base's chunks.
		hint.Exact = seed%2 == 0
		src := sparse(next)
		hinted, err := Volume(ctx, blobs, src, Options{Cutter: cut, Hint: hint, Workers: 1 + rng.IntN(4)})
		if err != nil {
			t.Fatal(err)
		}
		if hinted.ID != full.ID {
			t.Fatalf("seed %d: hinted manifest %s, full %s (size %d, %d changes, exact %v)", seed, hinted.ID.Short(), full.ID.Short(), size, len(changed), hint.Exact)
		}
		if hinted.ReadBytes != src.reads {
			t.Errorf("seed %d: ReadBytes %d, source served %d", seed, hinted.ReadBytes, src.reads)
		}
		if hint.Exact {
			var dirty int64
			for _, r := range normalize(hint.Changed, int64(size)) {
				dirty += r.Len
			}
			if hinted.ReadBytes > dirty {
				t.Errorf("seed %d: exact hint read %d bytes from the source, more than the %d it marks", seed, hinted.ReadBytes, dirty)
			}
			spliced += hinted.BaseBytes
		} else if hinted.BaseBytes != 0 {
			t.Errorf("seed %d: a hint that is not exact took %d bytes from the base", seed, hinted.BaseBytes)
		}
		saved += full.ReadBytes - hinted.ReadBytes
		total += full.ReadBytes
	}
	if saved <= 0 {
		t.Errorf("hints saved no reads over all seeds (read %d in full)", total)
	}
	if spliced <= 0 {
		t.Errorf("exact hints took no bytes from the base over all seeds")
	}
	t.Logf("hints saved %d of %d bytes read; exact hints took %d from the base", saved, total, spliced)
}

// noChunks is a store whose chunks cannot be read, only the manifest pages.
type noChunks struct {
	blob.Reader
	chunks map[blob.ID]bool
}

func (n noChunks) Get(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) {
	if n.chunks[id] {
		return nil, errors.New("chunk withheld by the test")
	}
	return n.Reader.Get(ctx, id, buf)
}

// TestExactHintMissingChunk: when the base's chunks cannot be loaded, an
// exact hint reads those bytes from the source, and the manifest is still
// the full read's.
func TestExactHintMissingChunk(t *testing.T) {
	ctx := context.Background()
	cut := testCutter(t)
	data := genVolume(9, piece{'r', 3 << 20}, piece{'z', 1 << 20}, piece{'t', 2 << 20})
	blobs := castest.NewMemStore()
	st, err := Volume(ctx, blobs, &memSource{data: data}, Options{Cutter: cut})
	if err != nil {
		t.Fatal(err)
	}
	base, err := volume.LoadManifest(ctx, blobs, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	chunks := map[blob.ID]bool{}
	base.Walk(ctx, blobs, 0, func(_ int64, e volume.Entry) error {
		if !e.Hole {
			chunks[e.ID] = true
		}
		return nil
	})
	next := append([]byte(nil), data...)
	changed := []source.Range{{Off: 1 << 20, Len: 64 << 10}, {Off: 4<<20 + 12345, Len: 100}}
	for _, r := range changed {
		for i := range r.Len {
			next[r.Off+i] ^= 0xa5
		}
	}
	full, err := Volume(ctx, blobs, &memSource{data: next}, Options{Cutter: cut})
	if err != nil {
		t.Fatal(err)
	}
	src := &memSource{data: next}
	hint := &Hint{Base: base, Pages: noChunks{blobs, chunks}, Changed: changed, Exact: true}
	got, err := Volume(ctx, blobs, src, Options{Cutter: cut, Hint: hint})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != full.ID || got.BaseBytes != 0 || got.ReadBytes != src.reads || got.ReadBytes <= 64<<10+100 {
		t.Errorf("chunks missing: id %s (want %s), read %d (source served %d), %d from the base", got.ID.Short(), full.ID.Short(), got.ReadBytes, src.reads, got.BaseBytes)
	}
}

// TestHintNothingChanged: an unchanged volume is not read at all.
func TestHintNothingChanged(t *testing.T) {
	ctx := context.Background()
	cut := testCutter(t)
	data := genVolume(3, piece{'r', 3 << 20}, piece{'z', 1 << 20}, piece{'t', 2 << 20}, piece{'z', 200 << 10}, piece{'r', 12345})
	blobs := castest.NewMemStore()
	st, err := Volume(ctx, blobs, &memSource{data: data}, Options{Cutter: cut})
	if err != nil {
		t.Fatal(err)
	}
	base, err := volume.LoadManifest(ctx, blobs, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	src := &memSource{data: data}
	again, err := Volume(ctx, blobs, src, Options{Cutter: cut, Hint: &Hint{Base: base, Pages: blobs}})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != st.ID || src.reads != 0 || again.CopiedBytes != st.DataBytes {
		t.Errorf("unchanged: id %s (want %s), read %d, copied %d of %d data bytes", again.ID.Short(), st.ID.Short(), src.reads, again.CopiedBytes, st.DataBytes)
	}
}

// TestHintResizedReadsAll: a base of another size gives no plan.
func TestHintResizedReadsAll(t *testing.T) {
	ctx := context.Background()
	cut := testCutter(t)
	blobs := castest.NewMemStore()
	old := genVolume(5, piece{'r', 1 << 20})
	st, err := Volume(ctx, blobs, &memSource{data: old}, Options{Cutter: cut})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := volume.LoadManifest(ctx, blobs, st.ID)
	grown := append(old, genVolume(6, piece{'r', 1 << 20})...)
	src := &memSource{data: grown}
	got, err := Volume(ctx, blobs, src, Options{Cutter: cut, Hint: &Hint{Base: base, Pages: blobs}})
	if err != nil {
		t.Fatal(err)
	}
	full, _ := Volume(ctx, blobs, &memSource{data: grown}, Options{Cutter: cut})
	if got.ID != full.ID || src.reads != int64(len(grown)) {
		t.Errorf("resized: id %s want %s, read %d of %d", got.ID.Short(), full.ID.Short(), src.reads, len(grown))
	}
}
