package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// config is what one harness run does; sizes are bytes.
type config struct {
	Seed      uint64  `json:"seed"`
	OSSize    int64   `json:"os_size"`
	Sparse    int64   `json:"sparse_size"`
	Overwrite int64   `json:"overwrite"`
	Sweep     []int64 `json:"sweep"`
	Synth     []int64 `json:"synth"`
	Lookups   int     `json:"lookups"`
	Smoke     bool    `json:"smoke"`
	Cache     string  `json:"cache"`
}

const gib = int64(1) << 30

func main() {
	log.SetFlags(log.Ltime)
	size := flag.String("size", envOr("BENCH_SIZE", "8G"), "OS image size; the others scale with it (full: 8G)")
	smoke := flag.Bool("smoke", false, "tiny inputs, to prove the harness works")
	out := flag.String("out", "bench/results", "directory for the report")
	work := flag.String("work", "", "scratch directory (default: a temp dir, removed)")
	seed := flag.Uint64("seed", 1, "workload seed")
	prebuilt := flag.String("vmrepbench", "", "use this vmrepbench binary instead of building one")
	binDir := flag.String("bin", "", "directory holding the vmrep and vmrepd binaries to time through the daemon (default: build them)")
	rewrite := flag.String("report", "", "rewrite the Markdown and plots from this run's JSON file, and exit")
	genOnly := flag.Bool("generate-only", false, "only generate the workloads into -work (the harness runs this as a child)")
	check := flag.String("check", "", "check that DIR holds a report that parses, and exit")
	synth := flag.String("synth", "", "synthetic volume sizes in GiB, comma-separated (default 1024,16384; smoke 1,16)")
	peersFlag := flag.String("peers", "restic,borg,casync,desync,xdelta3,rsync", "peers to run when installed")
	flag.Parse()
	if *check != "" {
		if err := checkReport(*check); err != nil {
			log.Fatalf("bench check: %v", err)
		}
		fmt.Println("bench check: report ok in", *check)
		return
	}
	if *rewrite != "" {
		if err := rewriteReport(*rewrite); err != nil {
			log.Fatalf("bench report: %v", err)
		}
		return
	}
	cfg, err := makeConfig(*size, *smoke, *seed)
	if err != nil {
		log.Fatal(err)
	}
	if *synth != "" {
		cfg.Synth = nil
		for _, f := range strings.Split(*synth, ",") {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil || n <= 0 {
				log.Fatalf("bad -synth %q", *synth)
			}
			cfg.Synth = append(cfg.Synth, n*gib)
		}
	}
	if *genOnly {
		b := &bench{cfg: cfg, work: *work}
		if err := b.generate(context.Background()); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(context.Background(), cfg, *out, *work, *prebuilt, *binDir, strings.Split(*peersFlag, ",")); err != nil {
		log.Fatal(err)
	}
}

// makeConfig scales the full workload (8 GiB OS disk, 16 GiB sparse, 1 GiB
// overwrite, sweep 1/4/16 GiB, synthetic 1 and 16 TiB) by size/8 GiB.
func makeConfig(size string, smoke bool, seed uint64) (config, error) {
	c := config{Seed: seed, Smoke: smoke, Lookups: 200000}
	if smoke {
		c.OSSize, c.Sparse, c.Overwrite = 32<<20, 64<<20, 8<<20
		c.Sweep, c.Synth, c.Lookups = []int64{8 << 20, 32 << 20}, []int64{gib, 16 * gib}, 1000
		return c, nil
	}
	s, err := parseSize(size)
	if err != nil {
		return c, err
	}
	c.OSSize, c.Sparse, c.Overwrite = s, 2*s, s/8
	c.Sweep = []int64{s / 8, s / 2, 2 * s}
	c.Synth = []int64{1024 * gib, 16 * 1024 * gib}
	return c, nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = gib, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q: want e.g. 8G or 512M", s)
	}
	return int64(n*float64(mult)) &^ (1<<20 - 1), nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// run builds vmrepbench, runs every part and writes the report.
func run(ctx context.Context, cfg config, outDir, workDir, prebuilt, binDir string, peers []string) error {
	if workDir == "" {
		d, err := os.MkdirTemp("", "vmrep-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		workDir = d
	}
	b := &bench{cfg: cfg, work: workDir, peers: map[string]bool{}}
	for _, p := range peers {
		if _, err := exec.LookPath(p); err == nil {
			b.peers[p] = true
		} else if p != "" {
			b.note("%s is not installed; left out (run make deps)", p)
		}
	}
	b.tool = prebuilt
	if b.tool == "" {
		b.tool = filepath.Join(workDir, "vmrepbench")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", b.tool, "./bench/cmd/vmrepbench").CombinedOutput(); err != nil {
			return fmt.Errorf("build vmrepbench: %v: %s", err, out)
		}
	}
	b.bin = binDir
	if b.bin == "" {
		b.bin = filepath.Join(workDir, "bin")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", b.bin+"/", "./cmd/vmrep", "./cmd/vmrepd").CombinedOutput(); err != nil {
			return fmt.Errorf("build vmrep and vmrepd: %v: %s", err, out)
		}
	}
	b.res.Versions = peerVersions(ctx, b.peers)
	if canDropCaches() {
		cfg.Cache = "warm (input read once before each tool; dropping caches is permitted here but not used, so runs do not disturb others)"
	} else {
		cfg.Cache = "warm (input read once before each tool; /proc/sys/vm/drop_caches is not writable here, so cold-cache runs are impossible)"
	}
	b.cfg = cfg
	start := time.Now()
	steps := []func(context.Context) error{b.workloads, b.ingestAll, b.mutations, b.sweep, b.synth}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	b.res.Config, b.res.Seconds = b.cfg, time.Since(start).Seconds()
	host, _ := os.Hostname()
	b.res.Host, b.res.Date = host, time.Now().UTC().Format("2006-01-02")
	b.res.CPUs, b.res.GoVersion = runtime.NumCPU(), runtime.Version()
	b.res.Goals = goals(&b.res)
	return writeReport(outDir, &b.res)
}
