package main

import "fmt"

// find returns the first row of rows matching workload, tool, op and, when
// procs > 0, GOMAXPROCS.
func find(rows []Row, w, tool, op string, procs int) (Row, bool) {
	for _, r := range rows {
		if r.Workload == w && r.Tool == tool && (op == "" || r.Op == op) && (procs == 0 || r.Procs == procs) {
			return r, true
		}
	}
	return Row{}, false
}

// goals checks the speed, size and memory goals of issues 3, 5, 6 and 21 that
// this harness measures. The ingest goals use the largest mixed image of the
// sweep, the mix the issue names.
func goals(res *Results) []Goal {
	var gs []Goal
	add := func(issue int, name, target, measured string, ratio float64) {
		gs = append(gs, Goal{Issue: issue, Name: name, Target: target, Measured: measured, Ratio: ratio, Met: ratio >= 1})
	}
	if n := len(res.Config.Sweep); n > 0 {
		w := fmt.Sprintf("mixed-%dM", res.Config.Sweep[n-1]>>20)
		if v, ok := find(res.Sweep, w, "vmrep", "ingest-cold", 2); ok {
			add(3, "cold ingest, "+w, ">= 1500 MB/s", fmt.Sprintf("%.0f MB/s", v.MBps), v.MBps/1500)
			if p, ok := find(res.Sweep, w, "restic", "backup-cold", 0); ok {
				add(3, "cold ingest vs restic, "+w, ">= 5x restic", fmt.Sprintf("%.2fx (restic %.0f MB/s)", v.MBps/p.MBps, p.MBps), v.MBps/p.MBps/5)
			}
		}
		if v, ok := find(res.Sweep, w, "vmrep", "reingest", 2); ok {
			add(3, "re-ingest unchanged, "+w, ">= 2500 MB/s", fmt.Sprintf("%.0f MB/s", v.MBps), v.MBps/2500)
		}
	}
	gs = append(gs, daemonGoals(res)...)
	var maxRSS float64
	for _, r := range append(append([]Row{}, res.Ingest...), res.Sweep...) {
		if r.Tool == "vmrep" && r.RSSMiB > maxRSS {
			maxRSS = r.RSSMiB
		}
	}
	add(3, "peak RSS of any vmrep ingest in this run", "< 256 MiB", fmt.Sprintf("%.0f MiB", maxRSS), 256/maxRSS)
	if v, ok := find(res.Delta, "sparse-scatter", "vmrep", "export", 2); ok && v.Changed > 0 {
		ratio := float64(v.Delta) / float64(v.Changed)
		add(5, "delta size, 1% scattered 4 KiB writes", "<= 1.25x changed bytes", fmt.Sprintf("%.3fx (%d of %d)", ratio, v.Delta, v.Changed), 1.25/ratio)
		for _, peer := range []string{"xdelta3", "rsync"} {
			if p, ok := find(res.Delta, "sparse-scatter", peer, "", 0); ok {
				add(5, "delta size vs "+peer, "<= "+peer, fmt.Sprintf("%.3fx of %s (%d bytes)", float64(v.Delta)/float64(p.Delta), peer, p.Delta), float64(p.Delta)/float64(v.Delta))
			}
		}
	}
	if v, ok := find(res.Delta, "os-apt", "vmrep", "export", 2); ok {
		if p, ok := find(res.Delta, "os-apt", "xdelta3", "", 0); ok && v.Delta > 0 && v.Seconds > 0 {
			add(21, "delta size, OS disk after apt-get install, vs xdelta3", "<= 1.0x xdelta3", fmt.Sprintf("%.3fx of xdelta3 (%d vs %d bytes)", float64(v.Delta)/float64(p.Delta), v.Delta, p.Delta), float64(p.Delta)/float64(v.Delta))
			// Wall time decides; CPU time, which a loaded machine disturbs
			// far less, is printed beside it.
			add(21, "delta export time, OS disk after apt-get install, vs xdelta3", ">= 10x faster than xdelta3",
				fmt.Sprintf("%.1fx faster (%.2f s vs %.2f s); CPU %.2f s vs %.2f s, %.1fx less", p.Seconds/v.Seconds, v.Seconds, p.Seconds,
					v.Extra["cpu_s"], p.Extra["cpu_s"], p.Extra["cpu_s"]/max(v.Extra["cpu_s"], 1e-3)), p.Seconds/v.Seconds/10)
		}
	}
	for _, op := range []string{"export", "apply"} {
		if v, ok := find(res.Delta, "sparse-seq", "vmrep", op, 2); ok && v.MBps > 0 {
			add(5, op+" throughput, sequential overwrite", ">= 1000 MB/s", fmt.Sprintf("%.0f MB/s", v.MBps), v.MBps/1000)
		}
	}
	for _, s := range res.Synth {
		if s.Bytes == 1024*gib {
			add(5, "diff of a 1 TiB volume, 0.1% of chunks changed", "< 1 s", fmt.Sprintf("%.3f s", s.Seconds), 1/s.Seconds)
		}
	}
	return gs
}

// daemonGoals checks issue 21's ingest goals on the rows timed through
// vmrepd: at least 5x restic's cold backup of the same input, and a daemon
// peak RSS no larger than restic's.
func daemonGoals(res *Results) []Goal {
	var gs []Goal
	add := func(name, target, measured string, ratio float64) {
		gs = append(gs, Goal{Issue: 21, Name: name, Target: target, Measured: measured, Ratio: ratio, Met: ratio >= 1})
	}
	rows := append(append([]Row{}, res.Ingest...), res.Sweep...)
	for _, r := range rows {
		if r.Op != daemonOp {
			continue
		}
		p, ok := find(rows, r.Workload, "restic", "backup-cold", 0)
		if !ok || r.Seconds <= 0 || r.RSSMiB <= 0 {
			continue
		}
		x := p.Seconds / r.Seconds
		add("ingest through vmrepd vs restic, "+r.Workload, ">= 5x restic", fmt.Sprintf("%.2fx (%.2f s vs %.2f s)", x, r.Seconds, p.Seconds), x/5)
		add("vmrepd peak RSS vs restic, "+r.Workload, "<= restic", fmt.Sprintf("%.0f MiB vs %.0f MiB", r.RSSMiB, p.RSSMiB), p.RSSMiB/r.RSSMiB)
	}
	return gs
}
