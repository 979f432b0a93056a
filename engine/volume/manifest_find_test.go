package volume

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas/castest"
)

func pageIDs(m *Manifest) []blob.ID {
	ids := make([]blob.ID, len(m.Pages))
	for i, p := range m.Pages {
		ids[i] = p.ID
	}
	return ids
}

func loadManifest(t testing.TB, r blob.Reader, id blob.ID) *Manifest {
	t.Helper()
	m, err := LoadManifest(context.Background(), r, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPageCutShift checks what diff relies on: pages hold no offsets and
// cuts depend on content, so an equal run of entries gives the same page IDs
// wherever it sits in the volume.
func TestPageCutShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	bs := castest.NewMemStore()
	run := canonical(randomEntries(rng, 20000, 0.2, 0.002))
	m := loadManifest(t, bs, writeManifest(t, bs, run).ID)
	if len(m.Pages) < 5 {
		t.Fatalf("want several pages, got %d", len(m.Pages))
	}
	again := loadManifest(t, bs, writeManifest(t, bs, slices.Clone(run)).ID)
	if again.ID != m.ID || !slices.Equal(pageIDs(again), pageIDs(m)) {
		t.Fatal("same entries gave different pages")
	}

	// A prefix that ends on a page cut: every page of run reappears.
	prefix := []Entry{{ID: chunkID(rng, false), Length: 12345}, {Length: 777, Hole: true}, {ID: chunkID(rng, true), Length: 4096}}
	shifted := loadManifest(t, bs, writeManifest(t, bs, append(slices.Clone(prefix), run...)).ID)
	got := pageIDs(shifted)
	if !slices.Equal(got[1:], pageIDs(m)) {
		t.Fatal("run after a cut prefix does not share its pages")
	}
	if shifted.Pages[1].Offset != 12345+777+4096 {
		t.Fatalf("shifted page offset %d", shifted.Pages[1].Offset)
	}

	// A prefix without a cut joins run's first page; all later pages match.
	prefix = []Entry{{ID: chunkID(rng, false), Length: 999}}
	shifted = loadManifest(t, bs, writeManifest(t, bs, append(slices.Clone(prefix), run...)).ID)
	got, want := pageIDs(shifted), pageIDs(m)
	if len(got) != len(want) || got[0] == want[0] || !slices.Equal(got[1:], want[1:]) {
		t.Fatal("run after an uncut prefix does not share its later pages")
	}
}

func TestFindPageAndFind(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	bs := castest.NewMemStore()
	es := canonical(randomEntries(rng, 30000, 0.3, 0.003))
	m := loadManifest(t, bs, writeManifest(t, bs, es).ID)
	offs, _ := walkAll(t, m, bs, 0)
	var p Page
	var buf []byte
	// Random offsets rarely hit a boundary, so try every boundary too.
	var probes []int64
	for _, pr := range m.Pages {
		probes = append(probes, pr.Offset-1, pr.Offset, pr.Offset+pr.Length-1)
	}
	for i, o := range offs {
		if i%7 == 0 {
			probes = append(probes, o, o-1)
		}
	}
	for k := 0; k < 5000; k++ {
		probes = append(probes, rng.Int64N(m.Size+10)-5)
	}
	for _, off := range probes {
		wantPage := -1
		for i, pr := range m.Pages {
			if off >= pr.Offset && off < pr.Offset+pr.Length {
				wantPage = i
			}
		}
		got := m.FindPage(off)
		if got != wantPage {
			t.Fatalf("FindPage(%d) = %d, want %d", off, got, wantPage)
		}
		if got < 0 {
			continue
		}
		var err error
		if buf, err = m.LoadPageInto(context.Background(), bs, got, &p, buf); err != nil {
			t.Fatal(err)
		}
		j := p.Find(off)
		wantEntry := -1
		for i, o := range p.Offsets {
			if off >= o && off < o+p.Entries[i].Length {
				wantEntry = i
			}
		}
		if j != wantEntry || j < 0 {
			t.Fatalf("Find(%d) = %d, want %d", off, j, wantEntry)
		}
		if !slices.Contains(offs, p.Offsets[j]) {
			t.Fatalf("page offset %d is no entry offset", p.Offsets[j])
		}
		if p.Find(p.Offsets[0]-1) != -1 || p.Find(p.End()) != -1 {
			t.Fatal("Find outside the page did not return -1")
		}
	}
}

func TestWalkFrom(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	bs := castest.NewMemStore()
	es := canonical(randomEntries(rng, 12000, 0.3, 0.003))
	m := loadManifest(t, bs, writeManifest(t, bs, es).ID)
	allOffs, all := walkAll(t, m, bs, 0)
	for k := 0; k < 50; k++ {
		from := rng.Int64N(m.Size + 1)
		offs, got := walkAll(t, m, bs, from)
		i := 0
		for i < len(all) && allOffs[i]+all[i].Length <= from {
			i++
		}
		if !slices.Equal(got, all[i:]) || !slices.Equal(offs, allOffs[i:]) {
			t.Fatalf("Walk from %d: %d entries, want %d", from, len(got), len(all)-i)
		}
	}
}

func TestLookupAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	bs := castest.NewMemStore()
	m := loadManifest(t, bs, writeManifest(t, bs, randomEntries(rng, 20000, 0.2, 0.002)).ID)
	ctx := context.Background()
	var p Page
	buf, err := m.LoadPageInto(ctx, bs, 0, &p, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Warm the reused slices to the largest page.
	for i := range m.Pages {
		if buf, err = m.LoadPageInto(ctx, bs, i, &p, buf); err != nil {
			t.Fatal(err)
		}
	}
	off := m.Size / 3
	for name, fn := range map[string]func(){
		"FindPage": func() { _ = m.FindPage(off) },
		"Find":     func() { _ = p.Find(p.Offsets[len(p.Offsets)/2]) },
		"LoadPageInto": func() {
			buf, err = m.LoadPageInto(ctx, bs, len(m.Pages)/2, &p, buf)
		},
	} {
		if n := testing.AllocsPerRun(100, fn); n != 0 || err != nil {
			t.Errorf("%s: %v allocations per run (err %v)", name, n, err)
		}
	}
}

// discardWriter checks and counts pages but keeps only the last one (the
// top page, stored last), for manifests too big to keep.
type discardWriter struct {
	pages int
	last  []byte
	id    blob.ID
}

func (d *discardWriter) Put(ctx context.Context, t blob.Type, id blob.ID, data []byte) (bool, error) {
	if blob.Sum(data) != id {
		return false, blob.ErrCorrupt
	}
	d.pages++
	d.last, d.id = append(d.last[:0], data...), id
	return true, nil
}
func (d *discardWriter) Flush(context.Context) error { return nil }
func (d *discardWriter) Get(ctx context.Context, id blob.ID, buf []byte) ([]byte, error) {
	if id != d.id {
		return nil, blob.ErrNotFound
	}
	return append(buf[:0], d.last...), nil
}
func (d *discardWriter) Has(ctx context.Context, id blob.ID) (bool, error) { return id == d.id, nil }

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestManifestWriterBoundedMemory writes a million entries and checks that
// the writer's heap does not grow with them beyond its page references.
func TestManifestWriterBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a million entries")
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(13, 14))
	dw := &discardWriter{}
	mw := NewManifestWriter(dw)
	const n = 1 << 20
	var base uint64
	for i := 0; i < n; i++ {
		if i == n/10 {
			base = heapInUse()
		}
		e := Entry{ID: chunkID(rng, false), Length: 1 + rng.Int64N(256<<10)}
		if i%5 == 0 {
			e = Entry{Hole: true, Length: 4096}
		}
		if err := mw.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	grown := int64(heapInUse()) - int64(base)
	info, err := mw.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A million entries take 48 MiB as a slice; one page with its encoding
	// is under 2 MiB and is already allocated at the baseline.
	if grown > 4<<20 {
		t.Fatalf("heap grew by %d bytes over %d entries", grown, n)
	}
	m := loadManifest(t, dw, info.ID)
	if info.Chunks+info.Holes != n || m.Size != info.Size || dw.pages != info.Pages+1 {
		t.Fatalf("info %+v, %d puts", info, dw.pages)
	}
}
