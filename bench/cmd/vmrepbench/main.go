package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Result is the one JSON line a run prints. Fields that an operation does
// not measure are left out.
type Result struct {
	Op      string  `json:"op"`
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"` // volume bytes the operation covers
	Seq     uint64  `json:"seq,omitempty"`
	Read    int64   `json:"read_bytes,omitempty"`
	New     int64   `json:"new_bytes,omitempty"`
	Stored  int64   `json:"stored_bytes,omitempty"`
	// TargetCopy is the volume bytes an export sent as target copies.
	TargetCopy int64   `json:"target_copy_bytes,omitempty"`
	Chunks     int64   `json:"chunks,omitempty"`
	ReadS      float64 `json:"read_s,omitempty"`
	SegmentS   float64 `json:"segment_s,omitempty"`
	HashS      float64 `json:"hash_s,omitempty"`
	StoreS     float64 `json:"store_s,omitempty"`

	Changed      int64 `json:"changed_bytes,omitempty"`
	Extents      int64 `json:"extents,omitempty"`
	PagesRead    int64 `json:"pages_read,omitempty"`
	PagesSkipped int64 `json:"pages_skipped,omitempty"`
	DeltaBytes   int64 `json:"delta_bytes,omitempty"`
	Written      int64 `json:"written_bytes,omitempty"`

	// HWMKiB is this process's peak RSS (VmHWM). rusage's ru_maxrss is not
	// enough: Linux carries the parent's high-water mark into a child
	// started with vfork and exec, as Go starts processes.
	HWMKiB int64 `json:"hwm_kib"`

	Pages     int     `json:"pages,omitempty"`
	PageBytes int64   `json:"page_bytes,omitempty"`
	GenS      float64 `json:"gen_s,omitempty"`
	Lookups   int     `json:"lookups,omitempty"`
	LookupS   float64 `json:"lookup_s,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: vmrepbench init|ingest|diff|export|replica|apply|restore|synth [flags]")
		os.Exit(2)
	}
	op := os.Args[1]
	fs := flag.NewFlagSet(op, flag.ExitOnError)
	a := args{
		store:      fs.String("store", "", "store directory"),
		vg:         fs.String("vg", "bench", "volume group name"),
		image:      fs.String("image", "", "image to ingest"),
		base:       fs.Uint64("base", 1, "base snapshot sequence"),
		target:     fs.Uint64("target", 2, "target snapshot sequence"),
		seq:        fs.Uint64("seq", 1, "snapshot sequence"),
		out:        fs.String("o", "", "output file"),
		dir:        fs.String("dir", "", "replica directory"),
		delta:      fs.String("delta", "", "delta file"),
		size:       fs.Int64("size", 1<<40, "synthetic volume size"),
		changed:    fs.Int64("changed", 0, "synthetic changed chunks (default 0.1% of chunks)"),
		file:       fs.String("file", "", "synthetic pages go to this scratch file, not memory"),
		lookups:    fs.Int("lookups", 100000, "random page lookups to time"),
		seed:       fs.Uint64("seed", 1, "seed"),
		checkFirst: fs.Bool("check-first", false, "apply: verify the delta's checksums before the pre-pass (delta.Open), not alongside it"),
	}
	fs.Parse(os.Args[2:])
	ctx := context.Background()
	run, ok := ops[op]
	if !ok {
		fmt.Fprintf(os.Stderr, "vmrepbench: unknown operation %q\n", op)
		os.Exit(2)
	}
	res, err := run(ctx, a)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmrepbench %s: %v\n", op, err)
		os.Exit(1)
	}
	res.Op = op
	res.HWMKiB = peakRSS()
	json.NewEncoder(os.Stdout).Encode(res)
}

type args struct {
	store, vg, image, out, dir, delta, file *string
	base, target, seq, seed                 *uint64
	size, changed                           *int64
	lookups                                 *int
	checkFirst                              *bool
}

var ops = map[string]func(context.Context, args) (Result, error){
	"init":    doInit,
	"ingest":  doIngest,
	"diff":    doDiff,
	"export":  doExport,
	"replica": doReplica,
	"apply":   doApply,
	"restore": doRestore,
	"synth":   doSynth,
}

// peakRSS reads VmHWM from /proc/self/status; 0 when it cannot.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }
