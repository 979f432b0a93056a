package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/cutproxy"
)

// TestBenchReplicateLimit measures `replicate --limit` on loopback: for
// each rate it sends a snapshot larger than the rate allows in the
// window, through a counting proxy, for VMREP_BENCH_LIMIT seconds, and
// reports the rate achieved after the first two seconds and the largest
// one-second window as a multiple of the limit. A benchmark, not a check:
// it runs only when VMREP_BENCH_LIMIT is set (e.g. 30) and asserts no
// timing.
func TestBenchReplicateLimit(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("VMREP_BENCH_LIMIT"))
	if secs <= 0 {
		t.Skip("set VMREP_BENCH_LIMIT=SECONDS to run the bandwidth-limit benchmark")
	}
	rates := []struct {
		flag string
		bps  float64 // bytes per second
	}{{"50Mbit", 50e6 / 8}, {"200Mbit", 200e6 / 8}}
	src := newDaemon(t)
	size := int64(rates[len(rates)-1].bps*float64(secs)*1.15) &^ (1<<20 - 1)
	boot, data := filepath.Join(src.dir, "boot.img"), filepath.Join(src.dir, "data.img")
	writeImage(t, boot, 1<<20, 1)
	f, err := os.Create(data)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(21, 21))
	for off := int64(0); off < size; off += 16 << 20 {
		if _, err := f.Write(randomBytes(rng, 16<<20)); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	start := time.Now()
	src.ok("vg", "create", "web", "--boot", boot, "--data", "db="+data)
	src.ok("snapshot", "create", "web")
	t.Logf("source: %d MiB of random data ingested in %v", size>>20, time.Since(start).Round(time.Second))
	for _, rate := range rates {
		pki := newReplPKI(t, t.TempDir())
		srv, addr := newReplServer(t, pki)
		proxy := cutproxy.New(t, addr)
		ticks := make(chan struct{})
		var at []time.Time
		var total []int64
		go func() {
			defer close(ticks)
			deadline := time.Now().Add(time.Duration(secs)*time.Second + 20*time.Second)
			var first time.Time
			for now := range time.Tick(100 * time.Millisecond) {
				n := proxy.Bytes()
				at, total = append(at, now), append(total, n)
				if first.IsZero() && n > 1<<20 {
					first = now
				}
				if (!first.IsZero() && now.Sub(first) >= time.Duration(secs)*time.Second) || now.After(deadline) {
					proxy.Arm(0, nil) // ends the run
					proxy.CloseAll()
					return
				}
			}
		}()
		r := src.vmrep("replicate", "web@1", "--to", proxy.Addr(), "--token-file", pki.tokenFile, "--ca", pki.caFile, "--limit", rate.flag)
		<-ticks
		// From two seconds after the stream began to the end of the window.
		i0 := 0
		for i0 < len(total) && total[i0] <= 1<<20 {
			i0++
		}
		i0 = min(i0+20, len(total)-1)
		iEnd := len(total) - 1
		dur := at[iEnd].Sub(at[i0]).Seconds()
		achieved := float64(total[iEnd]-total[i0]) / dur
		maxBurst := 0.0
		for i := 0; i+10 < len(total); i++ {
			w := float64(total[i+10]-total[i]) / at[i+10].Sub(at[i]).Seconds()
			maxBurst = max(maxBurst, w/rate.bps)
		}
		t.Logf("--limit %s: achieved %.2f Mbit/s over %.1f s (%.1f%% of the limit); largest 1 s window %.2fx the limit; run exit %d",
			rate.flag, achieved*8/1e6, dur, 100*achieved/rate.bps, maxBurst, r.code)
		if out := os.Getenv("VMREP_BENCH_OUT"); out != "" {
			line := fmt.Sprintf("limit=%s achieved_mbit=%.2f seconds=%.1f ratio=%.4f max_1s_burst=%.3f\n", rate.flag, achieved*8/1e6, dur, achieved/rate.bps, maxBurst)
			if f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.WriteString(line)
				f.Close()
			}
		}
		srv.stop()
	}
}
