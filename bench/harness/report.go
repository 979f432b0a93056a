package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// writeReport writes <date>-<host>.md, .json and the PNG plots in dir.
func writeReport(dir string, res *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	base := filepath.Join(dir, res.Date+"-"+res.Host)
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	plots, err := writePlots(base, res)
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".md", []byte(markdown(res, plots)), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Println("bench: report in", base+".md")
	return nil
}

// rewriteReport redraws the Markdown and plots of a run from its JSON,
// after a change to the report's layout; no figure is touched.
func rewriteReport(jsonPath string) error {
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		return err
	}
	var res Results
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("parse %s: %w", jsonPath, err)
	}
	return writeReport(filepath.Dir(jsonPath), &res)
}

func mib(n int64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }

func markdown(res *Results, plots []string) string {
	var b strings.Builder
	p := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	c := res.Config
	p("# vmrep benchmarks, %s, %s\n\n", res.Date, res.Host)
	p("%d CPUs, %s, seed %d; OS image %d MiB, sparse image %d MiB (25%% data), sequential overwrite %d MiB. Page cache: %s. Run took %.0f s.\n\n",
		res.CPUs, res.GoVersion, c.Seed, c.OSSize>>20, c.Sparse>>20, c.Overwrite>>20, c.Cache, res.Seconds)
	if len(res.Versions) > 0 {
		p("Peers: %s.\n\n", versionList(res.Versions))
	}
	p("Every figure below was measured in this run. MB/s is the image's logical size over the operation's time (1 MB = 10^6 bytes). vmrep times are the operation as vmrepbench timed it; peers' are the wall time of their process. RSS is the peak of the operation's own process. The %s rows time `vmrep snapshot create` (the CLI's wall time) through a real vmrepd on a fresh store, as users run it; their RSS is the daemon's VmHWM and their ratio is against restic's cold backup of the same run.\n\n", daemonOp)
	p("## Ingest\n\n| input | tool | op | procs | s | MB/s | vmrep (2 procs) speed-up | RSS MiB | repo MiB | read/segment/hash/store s |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Ingest {
		ratio := ""
		if r.Op == daemonOp {
			ratio = vsRestic(res.Ingest, r)
		}
		if r.Tool != "vmrep" {
			op := "ingest-cold"
			if strings.HasSuffix(r.Op, "again") {
				op = "reingest"
			}
			if v, ok := find(res.Ingest, r.Workload, "vmrep", op, 2); ok {
				ratio = fmt.Sprintf("%.2fx", v.MBps/r.MBps)
			}
		}
		split := ""
		if r.Split != nil {
			split = fmt.Sprintf("%.2f/%.2f/%.2f/%.2f", r.Split["read"], r.Split["segment"], r.Split["hash"], r.Split["store"])
		}
		p("| %s | %s | %s | %s | %.2f | %.0f | %s | %.0f | %s | %s |\n", r.Workload, r.Tool, r.Op, procs(r), r.Seconds, r.MBps, ratio, r.RSSMiB, mib(r.Repo), split)
	}
	p("\nHash and store times are summed over workers, so they can exceed the wall time.\n\n")
	p("## Delta, diff, apply, restore\n\n| change | tool | op | s | CPU s | MB/s | changed MiB | delta MiB | delta / changed | vmrep delta / this | RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Delta {
		dr, vr := "", ""
		if r.Delta > 0 && r.Changed > 0 {
			dr = fmt.Sprintf("%.3f", float64(r.Delta)/float64(r.Changed))
			if v, ok := find(res.Delta, r.Workload, "vmrep", "export", 2); ok && r.Tool != "vmrep" {
				vr = fmt.Sprintf("%.3f", float64(v.Delta)/float64(r.Delta))
			}
		}
		mbps := ""
		if r.MBps > 0 {
			mbps = fmt.Sprintf("%.0f", r.MBps)
		}
		delta := ""
		if r.Delta > 0 {
			delta = mib(r.Delta)
		}
		cpu := ""
		if c := r.Extra["cpu_s"]; c > 0 {
			cpu = fmt.Sprintf("%.2f", c)
		}
		p("| %s | %s | %s | %.3f | %s | %s | %s | %s | %s | %s | %.0f |\n", r.Workload, r.Tool, r.Op, r.Seconds, cpu, mbps, mib(r.Changed), delta, dr, vr, r.RSSMiB)
	}
	p("\nFor vmrep export/apply, MB/s is changed data moved per second; for xdelta3 and rsync, the image size over their time. CPU s is the process's user and system time, which a loaded machine disturbs far less than s.\n\n")
	p("## Time against image size (mixed image: half random, a quarter text, a quarter holes)\n\n| size MiB | tool | op | s | MB/s | RSS MiB | repo MiB |\n|---|---|---|---|---|---|---|\n")
	for _, r := range res.Sweep {
		op := r.Op
		if r.Op == daemonOp {
			op += ", " + vsRestic(res.Sweep, r)
		}
		p("| %d | %s | %s | %.2f | %.0f | %.0f | %s |\n", r.Bytes>>20, r.Tool, op, r.Seconds, r.MBps, r.RSSMiB, mib(r.Repo))
	}
	p("\n## Synthetic manifests (no data)\n\n| volume | changed chunks | pages | diff s | pages read / skipped | page lookups/s (uncached) | generate s | pages held in | RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Synth {
		where := "scratch file"
		if r.Extra["in_memory"] == 1 {
			where = "memory"
		}
		p("| %d GiB | %.0f | %.0f | %.3f | %.0f / %.0f | %.0f | %.1f | %s | %.0f |\n", r.Bytes>>30, r.Extra["changed_chunks"], r.Extra["pages"], r.Seconds,
			r.Extra["pages_read"], r.Extra["pages_skipped"], r.Extra["lookups_per_s"], r.Extra["generate_s"], where, r.RSSMiB)
	}
	p("\nA lookup is what a FUSE read does to find its chunk: FindPage, load and decode the page, Find; no page cache.\n\n")
	p("## Goals\n\n| issue | goal | target | measured | ratio (>= 1 meets) | met |\n|---|---|---|---|---|---|\n")
	for _, g := range res.Goals {
		p("| %d | %s | %s | %s | %.2f | %v |\n", g.Issue, g.Name, g.Target, g.Measured, g.Ratio, g.Met)
	}
	if len(res.Notes) > 0 {
		p("\n## Notes\n\n")
		for _, n := range res.Notes {
			p("- %s\n", n)
		}
	}
	if len(plots) > 0 {
		p("\n## Plots\n\n")
		for _, f := range plots {
			p("![%s](%s)\n\n", f, f)
		}
	}
	return b.String()
}

func procs(r Row) string {
	if r.Procs == 0 {
		return "all"
	}
	return fmt.Sprint(r.Procs)
}

// vsRestic says how many times faster daemon row r was than restic's cold
// backup of the same input in rows, and the daemon's CPU seconds.
func vsRestic(rows []Row, r Row) string {
	s := fmt.Sprintf("daemon %.1f CPU-s", r.Extra["daemon_cpu_s"])
	if p, ok := find(rows, r.Workload, "restic", "backup-cold", 0); ok && r.Seconds > 0 {
		s = fmt.Sprintf("%.2fx restic, %s", p.Seconds/r.Seconds, s)
	}
	return s
}

func versionList(vs map[string]string) string {
	names := make([]string, 0, len(vs))
	for n := range vs {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		names[i] = n + ": " + vs[n]
	}
	return strings.Join(names, "; ")
}
