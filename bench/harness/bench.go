package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vmrep/vmrep/bench/workload"
)

type bench struct {
	cfg   config
	work  string
	tool  string
	bin   string // directory holding vmrep and vmrepd
	peers map[string]bool
	res   Results

	osNames []string
	stores  map[string]string // workload -> vmrep store holding base as @1
}

func (b *bench) note(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	log.Print(s)
	b.res.Notes = append(b.res.Notes, s)
}

func (b *bench) path(name string) string { return filepath.Join(b.work, name) }

// workloads makes every input image in a child process (this program with
// -generate-only), so the large buffers of generation never raise the
// harness's RSS, which Linux reports as a floor of every child's ru_maxrss.
func (b *bench) workloads(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	c := b.cfg
	args := []string{self, "-generate-only", "-work", b.work, "-seed", strconv.FormatUint(c.Seed, 10), "-size", strconv.FormatInt(c.OSSize>>20, 10) + "M"}
	if c.Smoke {
		args = append(args, "-smoke")
	}
	_, err = runChild(ctx, nil, args...)
	return err
}

// generate makes every input image from the seed.
func (b *bench) generate(ctx context.Context) error {
	c := b.cfg
	log.Printf("generating workloads: os %d MiB, sparse %d MiB", c.OSSize>>20, c.Sparse>>20)
	names, err := workload.OSImage(ctx, b.path("os.img"), b.work, c.Seed, c.OSSize)
	if err != nil {
		return err
	}
	b.osNames = names
	if err := workload.Copy(ctx, b.path("os.img"), b.path("os-files.img")); err != nil {
		return err
	}
	if err := workload.FileEdits(ctx, b.path("os-files.img"), b.work, c.Seed+1, names, c.OSSize*55/100); err != nil {
		return err
	}
	if err := workload.Sparse(b.path("sparse.img"), c.Seed+2, c.Sparse, 0.25); err != nil {
		return err
	}
	if err := workload.Copy(ctx, b.path("sparse.img"), b.path("sparse-scatter.img")); err != nil {
		return err
	}
	if _, err := workload.Scatter(b.path("sparse-scatter.img"), c.Seed+3, 0.01); err != nil {
		return err
	}
	if err := workload.Copy(ctx, b.path("sparse.img"), b.path("sparse-seq.img")); err != nil {
		return err
	}
	return workload.Overwrite(b.path("sparse-seq.img"), c.Seed+4, c.Sparse/4, c.Overwrite)
}

// vmrep runs one vmrepbench operation with GOMAXPROCS procs.
func (b *bench) vmrep(ctx context.Context, procs int, args ...string) (measured, error) {
	return runChild(ctx, []string{"GOMAXPROCS=" + strconv.Itoa(procs)}, append([]string{b.tool}, args...)...)
}

// ingestAll runs vmrep (GOMAXPROCS 1 and 2) and then each ingest peer on
// the OS image and the sparse image.
func (b *bench) ingestAll(ctx context.Context) error {
	b.stores = map[string]string{}
	for _, w := range []string{"os", "sparse"} {
		img := b.path(w + ".img")
		size := fileSize(img)
		for _, procs := range []int{1, 2} {
			store := b.path(fmt.Sprintf("store-%s-%d", w, procs))
			if _, err := b.vmrep(ctx, procs, "init", "-store", store); err != nil {
				return err
			}
			for _, op := range []string{"ingest-cold", "reingest"} {
				if err := warm(img); err != nil {
					return err
				}
				m, err := b.vmrep(ctx, procs, "ingest", "-store", store, "-image", img)
				if err != nil {
					return err
				}
				b.res.Ingest = append(b.res.Ingest, vmrepRow(w, op, procs, size, m, duBytes(store)))
			}
			if procs == 2 {
				b.stores[w] = store
			} else {
				os.RemoveAll(store)
			}
		}
		r, err := b.daemonIngest(ctx, w, img, size)
		if err != nil {
			return err
		}
		b.res.Ingest = append(b.res.Ingest, r)
		if err := b.ingestPeers(ctx, w, img, size); err != nil {
			return err
		}
	}
	return nil
}

func vmrepRow(w, op string, procs int, size int64, m measured, repo int64) Row {
	r := Row{Workload: w, Tool: "vmrep", Op: op, Procs: procs, Bytes: size, Seconds: m.f("seconds"),
		Wall: m.Wall, RSSMiB: float64(m.RSSKiB) / 1024, Repo: repo}
	if r.Seconds > 0 {
		r.MBps = float64(size) / r.Seconds / 1e6
	}
	if m.f("read_s") > 0 {
		r.Split = map[string]float64{"read": m.f("read_s"), "segment": m.f("segment_s"), "hash": m.f("hash_s"), "store": m.f("store_s")}
		r.Extra = map[string]float64{"new_bytes": m.f("new_bytes"), "read_bytes": m.f("read_bytes"), "chunks": m.f("chunks")}
	}
	return r
}
