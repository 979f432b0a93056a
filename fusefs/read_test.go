package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/volume"
)

// TestRandomPreads compares 10,000 preads of random offsets and lengths
// through FUSE with the image restore writes. Small chunks give a 64 MiB
// volume several manifest pages, so reads cross chunk and page boundaries.
func TestRandomPreads(t *testing.T) {
	requireFUSE(t)
	ctx := context.Background()
	f := newFixture(t, &blob.ChunkerParams{Min: 1 << 10, Avg: 4 << 10, Max: 16 << 10})
	src := filepath.Join(t.TempDir(), "boot")
	const size = 64<<20 + 4321
	writeImage(t, src, size, 11)
	vg := f.createVG(t, "big", map[string]string{"boot": src}, "boot")
	snap := f.snapshot(t, vg)

	man, err := volume.LoadManifest(ctx, f.store, snap.Volumes[0].Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Pages) < 2 {
		t.Fatalf("manifest has %d page(s); the test needs page boundaries", len(man.Pages))
	}
	t.Logf("%d chunks and %d holes on %d manifest pages", snap.Volumes[0].Chunks, snap.Volumes[0].Holes, len(man.Pages))
	restored := filepath.Join(t.TempDir(), "restored.img")
	if _, err := restore.ToPath(ctx, f.store, man, restored, restore.Options{}); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(restored)
	if err != nil {
		t.Fatal(err)
	}

	m := f.mount(t, Options{CacheSize: 4 << 20}) // small: evictions happen
	img, err := os.Open(filepath.Join(m.Dir(), "big", "1", "boot.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()

	// Offsets near page boundaries are drawn often so that many reads
	// straddle one.
	var edges []int64
	for _, p := range man.Pages[1:] {
		edges = append(edges, p.Offset)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	buf := make([]byte, 256<<10)
	crossed := 0
	for i := range 10000 {
		var off int64
		if i%4 == 0 {
			off = edges[rng.IntN(len(edges))] - int64(rng.IntN(64<<10))
		} else {
			off = rng.Int64N(size)
		}
		n := 1 + rng.IntN(len(buf))
		if i%3 == 0 {
			n = 1 + rng.IntN(4<<10)
		}
		off = max(off, 0)
		got, err := img.ReadAt(buf[:n], off)
		end := min(off+int64(n), size)
		if err != nil && !(errors.Is(err, io.EOF) && end == size) {
			t.Fatalf("pread %d at %d: %v", n, off, err)
		}
		if int64(got) != end-off || !bytes.Equal(buf[:got], want[off:end]) {
			t.Fatalf("pread %d at %d: %d bytes differ from the restored image", n, off, got)
		}
		for _, e := range edges {
			if off < e && e < end {
				crossed++
			}
		}
	}
	if crossed < 100 {
		t.Errorf("only %d reads crossed a page boundary", crossed)
	}
	t.Logf("%d of 10000 reads crossed a page boundary", crossed)
}

// TestCorruptChunk flips a byte of one stored chunk: reads of that range
// fail with EIO, never wrong bytes, and the rest of the volume still reads.
func TestCorruptChunk(t *testing.T) {
	requireFUSE(t)
	ctx := context.Background()
	f := newFixture(t, nil)
	src := filepath.Join(t.TempDir(), "boot")
	want := writeImage(t, src, 8<<20, 21)
	vg := f.createVG(t, "bad", map[string]string{"boot": src}, "boot")
	snap := f.snapshot(t, vg)
	man, err := volume.LoadManifest(ctx, f.store, snap.Volumes[0].Manifest)
	if err != nil {
		t.Fatal(err)
	}
	// The first chunk past 4 MiB is the victim.
	var victimOff int64 = -1
	var victim volume.Entry
	errFound := errors.New("found")
	err = man.Walk(ctx, f.store, 4<<20, func(off int64, e volume.Entry) error {
		if !e.Hole && off >= 4<<20 {
			victimOff, victim = off, e
			return errFound
		}
		return nil
	})
	if !errors.Is(err, errFound) {
		t.Fatalf("no chunk past 4 MiB: %v", err)
	}
	loc, err := f.store.Lookup(ctx, victim.ID)
	if err != nil {
		t.Fatal(err)
	}
	pack := filepath.Join(f.dir, "packs", loc.Pack[:2], loc.Pack+".pack")
	pf, err := os.OpenFile(pack, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	at := loc.Offset + int64(loc.Stored)/2
	if _, err := pf.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := pf.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
	pf.Close()

	m := f.mount(t, Options{ReadAhead: -1}) // read-ahead off: only the victim's reads touch it
	img, err := os.Open(filepath.Join(m.Dir(), "bad", "1", "boot.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	buf := make([]byte, 4096)
	if _, err := img.ReadAt(buf, victimOff+victim.Length/2); !errors.Is(err, syscall.EIO) {
		t.Errorf("read of the corrupt chunk at %d: %v, want EIO", victimOff, err)
	}
	// Again: a failed load is not cached, and still never wrong bytes.
	if _, err := img.ReadAt(buf, victimOff); !errors.Is(err, syscall.EIO) {
		t.Errorf("second read of the corrupt chunk: %v, want EIO", err)
	}
	for _, off := range []int64{0, 1 << 20, 7 << 20} {
		n, err := img.ReadAt(buf, off)
		if err != nil || !bytes.Equal(buf[:n], want[off:off+int64(n)]) {
			t.Errorf("read at %d away from the corrupt chunk: %d bytes, %v", off, n, err)
		}
	}
}

// TestConcurrentReaders runs 16 readers over different volumes and
// snapshots at once; run with -race.
func TestConcurrentReaders(t *testing.T) {
	requireFUSE(t)
	f := newFixture(t, &blob.ChunkerParams{Min: 4 << 10, Avg: 16 << 10, Max: 64 << 10})
	src := t.TempDir()
	type file struct {
		path string
		want []byte
	}
	var files []file
	for _, vgName := range []string{"a", "b"} {
		paths := map[string]string{"boot": filepath.Join(src, vgName+"-boot"), "data": filepath.Join(src, vgName+"-data")}
		var contents [2]map[string][]byte
		for s := range 2 {
			contents[s] = map[string][]byte{}
			for i, vn := range []string{"boot", "data"} {
				contents[s][vn] = writeImage(t, paths[vn], int64(3<<20+i*777), uint64(100*s+10*i+int(vgName[0])))
			}
			if s == 0 {
				f.createVG(t, vgName, paths, "boot", "data")
			}
			g, err := f.cat.GetVG(context.Background(), vgName)
			if err != nil {
				t.Fatal(err)
			}
			f.snapshot(t, g)
		}
		for s := range 2 {
			for _, vn := range []string{"boot", "data"} {
				files = append(files, file{path: fmt.Sprintf("%s/%d/%s.img", vgName, s+1, vn), want: contents[s][vn]})
			}
		}
	}
	m := f.mount(t, Options{CacheSize: 8 << 20})

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for r := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fl := files[r%len(files)]
			errs <- readAndCompare(filepath.Join(m.Dir(), fl.path), fl.want, uint64(r), r%2 == 0)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// readAndCompare reads path sequentially in 1 MiB reads or with random
// preads and compares with want.
func readAndCompare(path string, want []byte, seed uint64, sequential bool) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	buf := make([]byte, 1<<20)
	if sequential {
		for off := 0; off < len(want); off += len(buf) {
			n, err := fh.ReadAt(buf, int64(off))
			if err != nil && n != len(want)-off {
				return fmt.Errorf("%s at %d: %w", path, off, err)
			}
			if !bytes.Equal(buf[:n], want[off:off+n]) {
				return fmt.Errorf("%s at %d: %d bytes differ", path, off, n)
			}
		}
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 9))
	for range 500 {
		off := rng.IntN(len(want))
		n := min(1+rng.IntN(200<<10), len(want)-off)
		got, err := fh.ReadAt(buf[:n], int64(off))
		if err != nil || got != n || !bytes.Equal(buf[:n], want[off:off+n]) {
			return fmt.Errorf("%s pread %d at %d: got %d, %v, or bytes differ", path, n, off, got, err)
		}
	}
	return nil
}
