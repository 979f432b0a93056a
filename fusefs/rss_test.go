package fusefs

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// writeSparse writes a sparse image of size bytes holding data bytes of
// random 1 MiB blocks spread evenly, without holding it in memory.
func writeSparse(t testing.TB, path string, size, data int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	buf := make([]byte, 1<<20)
	blocks := data / int64(len(buf))
	stride := size / blocks / int64(len(buf)) * int64(len(buf))
	for i := range blocks {
		for j := 0; j < len(buf); j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		if _, err := f.WriteAt(buf, i*stride); err != nil {
			t.Fatal(err)
		}
	}
}

// peakRSS reads VmHWM, the process's peak resident set, in bytes.
func peakRSS(t testing.TB) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// TestReadRSSBound reads a large sparse volume end to end through the
// mount and checks that the peak RSS, reset after the ingest, stays under
// the chunk cache size plus 64 MiB: the cache is bounded and reused, not
// grown with the volume. 8 GiB with 2 GiB of data; 2 GiB with 512 MiB in
// -short.
func TestReadRSSBound(t *testing.T) {
	requireFUSE(t)
	size, data := int64(8<<30), int64(2<<30)
	if testing.Short() {
		size, data = 2<<30, 512<<20
	}
	const cache = 64 << 20
	f := newFixture(t, nil)
	src := filepath.Join(t.TempDir(), "sparse.img")
	writeSparse(t, src, size, data)
	vg := f.createVG(t, "big", map[string]string{"boot": src}, "boot")
	f.snapshot(t, vg)
	os.Remove(src)

	m := f.mount(t, Options{CacheSize: cache})
	runtime.GC()
	debug.FreeOSMemory()
	// Writing 5 to clear_refs resets VmHWM to the current RSS.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	base := peakRSS(t)
	buf := make([]byte, 1<<20)
	fh, err := os.Open(filepath.Join(m.Dir(), "big", "1", "boot.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var total int64
	for {
		n, err := fh.Read(buf)
		total += int64(n)
		if err != nil {
			break
		}
	}
	if total != size {
		t.Fatalf("read %d bytes, want %d", total, size)
	}
	peak := peakRSS(t)
	t.Logf("RSS before reading %d MiB, peak while reading %d MiB (cache %d MiB, volume %d MiB with %d MiB data)",
		base>>20, peak>>20, cache>>20, size>>20, data>>20)
	if peak > base+cache+64<<20 {
		t.Errorf("peak RSS %d MiB exceeds the %d MiB before reading + cache %d MiB + 64 MiB", peak>>20, base>>20, cache>>20)
	}
}
