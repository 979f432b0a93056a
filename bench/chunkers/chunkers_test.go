package chunkers

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"sync"
	"testing"

	cdc "github.com/PlakarKorp/go-cdc-chunkers"
	_ "github.com/PlakarKorp/go-cdc-chunkers/chunkers/fastcdc"
	_ "github.com/PlakarKorp/go-cdc-chunkers/chunkers/jc"
	jotfs "github.com/jotfs/fastcdc-go"
	restic "github.com/restic/chunker"

	"github.com/vmrep/vmrep/engine/chunker"
)

// The sizes every peer is asked for: vmrep's defaults.
const (
	minSize = 16 << 10
	avgSize = 64 << 10
	maxSize = 256 << 10
)

var input = sync.OnceValue(func() []byte { return MixedInput(64 * mib) })

// splitFunc chunks data and calls visit with each chunk (valid only during
// the call).
type splitFunc func(tb testing.TB, data []byte, visit func([]byte))

var peers = []struct {
	name  string
	split splitFunc
}{
	{"vmrep", splitVmrep},
	{"jotfs-fastcdc-go", splitJotfs},
	{"restic", splitRestic},
	{"plakar-fastcdc", splitPlakar("fastcdc-v1.0.0")},
	{"plakar-jc", splitPlakar("jc-v1.0.0")},
}

func splitVmrep(tb testing.TB, data []byte, visit func([]byte)) {
	c, err := chunker.NewCutter(chunker.Params{Min: minSize, Avg: avgSize, Max: maxSize})
	if err != nil {
		tb.Fatal(err)
	}
	s := chunker.NewSplitter(bytes.NewReader(data), c)
	for {
		chunk, err := s.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		visit(chunk)
	}
}

func splitJotfs(tb testing.TB, data []byte, visit func([]byte)) {
	c, err := jotfs.NewChunker(bytes.NewReader(data), jotfs.Options{MinSize: minSize, AverageSize: avgSize, MaxSize: maxSize})
	if err != nil {
		tb.Fatal(err)
	}
	for {
		chunk, err := c.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		visit(chunk.Data)
	}
}

// splitRestic uses Rabin fingerprints; its average is min + 2^bits, so
// 16 bits gives about 80 KiB.
func splitRestic(tb testing.TB, data []byte, visit func([]byte)) {
	c := restic.NewWithBoundaries(bytes.NewReader(data), restic.Pol(0x3DA3358B4DC173), minSize, maxSize)
	c.SetAverageBits(16)
	buf := make([]byte, maxSize)
	for {
		chunk, err := c.Next(buf)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		visit(chunk.Data)
	}
}

// splitPlakar names the versioned algorithms: the unversioned "fastcdc" and
// "jc" keep masks tuned for 8 KiB chunks whatever the sizes asked for.
func splitPlakar(algo string) splitFunc {
	return func(tb testing.TB, data []byte, visit func([]byte)) {
		c, err := cdc.NewChunker(algo, bytes.NewReader(data), &cdc.ChunkerOpts{MinSize: minSize, NormalSize: avgSize, MaxSize: maxSize})
		if err != nil {
			tb.Fatal(err)
		}
		for {
			chunk, err := c.Next()
			if len(chunk) > 0 {
				visit(chunk)
			}
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				tb.Fatal(err)
			}
		}
	}
}

func BenchmarkChunker(b *testing.B) { benchPeers(b, input()) }

// BenchmarkChunkerRandom runs the peers on random bytes only, where no
// chunker can skip zero runs.
func BenchmarkChunkerRandom(b *testing.B) { benchPeers(b, randomBytes(99, 64*mib)) }

func benchPeers(b *testing.B, data []byte) {
	for _, p := range peers {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var chunks, total int
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0, runs := threadCPU(), 0
			for b.Loop() {
				chunks, total = 0, 0
				p.split(b, data, func(c []byte) { chunks++; total += len(c) })
				runs++
			}
			if cpu := threadCPU() - cpu0; cpu > 0 {
				b.ReportMetric(float64(runs*len(data))/cpu.Seconds()/1e6, "MB/cpu-s")
			}
			if total != len(data) {
				b.Fatalf("chunks cover %d bytes of %d", total, len(data))
			}
			b.ReportMetric(float64(total)/float64(chunks), "B/chunk")
		})
	}
}

// sharedFraction chunks before and after and returns the fraction of
// after's bytes that lie in chunks also found in before.
func sharedFraction(tb testing.TB, split splitFunc, before, after []byte) float64 {
	seen := map[[32]byte]bool{}
	split(tb, before, func(c []byte) { seen[sha256.Sum256(c)] = true })
	shared := 0
	split(tb, after, func(c []byte) {
		if seen[sha256.Sum256(c)] {
			shared += len(c)
		}
	})
	return float64(shared) / float64(len(after))
}

// BenchmarkDedup reports, per chunker, how much of the mixed input still
// deduplicates after scattered 4 KiB writes over 1% of it.
func BenchmarkDedup(b *testing.B) {
	before := input()
	after := Mutate(before, 0.01, 7)
	for _, p := range peers {
		b.Run(p.name, func(b *testing.B) {
			var frac float64
			for b.Loop() {
				frac = sharedFraction(b, p.split, before, after)
			}
			b.ReportMetric(frac, "shared-frac")
		})
	}
}

// TestDedupComparable checks vmrep keeps at least as much shared data as
// the reference FastCDC implementation, within a point.
func TestDedupComparable(t *testing.T) {
	before := MixedInput(16 * mib)
	after := Mutate(before, 0.01, 7)
	v := sharedFraction(t, splitVmrep, before, after)
	j := sharedFraction(t, splitJotfs, before, after)
	t.Logf("shared fraction after 1%% scattered 4 KiB writes: vmrep %.4f, jotfs-fastcdc-go %.4f", v, j)
	if v < j-0.01 || v < 0.5 {
		t.Fatalf("vmrep shares %.4f of the bytes, jotfs-fastcdc-go %.4f", v, j)
	}
}
